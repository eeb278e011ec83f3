# frozen_string_literal: true

# Reads and drives jobkit's Redis data through Sidekiq's own Ruby API (and its Web UI), for
# the interop tests. Usage: ruby sidekiq_api.rb COMMAND [ARGS...]; the Redis URL comes from
# SIDEKIQ_REDIS_URL. Every command prints one JSON document on stdout.
#
#   push CLASS ARGS_JSON [QUEUE]     Sidekiq::Client.push; prints {"jid": ...}
#   push_in SECONDS CLASS ARGS_JSON  Sidekiq::Client.push with "at" (Worker.perform_in)
#   snapshot                         Stats, History, Queues, Scheduled/Retry/Dead sets,
#                                    ProcessSet and Workers as jobkit's data reads in Ruby
#   retry_all retry|dead             RetrySet#retry_all / DeadSet#retry_all
#   retry_each retry|dead            SortedEntry#retry on each entry
#   add_to_queue                     SortedEntry#add_to_queue on each scheduled job
#   signal quiet|stop                Process#quiet! / Process#stop! on every process
#   web PATH...                      GET each Web UI page; prints {PATH: {status, body}}
#   press PAGE BUTTON [JID...]       as a browser does: GET PAGE (with a session cookie), tick
#                                    the checkboxes of JIDs on it, press the button named
#                                    BUTTON (kill, delete, ...) of its form; prints {status,
#                                    location, keys}. press-forged: the same POST without the
#                                    page's CSRF token.

require "json"
require "sidekiq"
require "sidekiq/api"

Sidekiq.configure_client { |config| config.redis = { url: ENV.fetch("SIDEKIQ_REDIS_URL") } }

def time(value)
  value&.to_f
end

def job(record)
  {
    "class" => record.klass, "display_class" => record.display_class,
    "args" => record.args, "display_args" => record.display_args, "jid" => record.jid,
    "queue" => record.queue, "enqueued_at" => time(record.enqueued_at),
    "created_at" => time(record.created_at), "latency" => record.latency, "tags" => record.tags,
    "item" => record.item
  }
end

def entry(record)
  failed_at = record["failed_at"]
  job(record).merge(
    "at" => time(record.at), "score" => record.score, "error?" => record.error?,
    "error_class" => record["error_class"], "error_message" => record["error_message"],
    # As the Web UI shows it: Time.at raises on anything but a number.
    "failed_at" => failed_at && Time.at(failed_at).utc.to_f,
    "retry_count" => record["retry_count"], "error_backtrace" => record.error_backtrace
  )
end

def sorted_set(klass)
  klass.new.map { |record| entry(record) }
end

def snapshot
  stats = Sidekiq::Stats.new
  history = Sidekiq::Stats::History.new(1)
  {
    "stats" => {
      "processed" => stats.processed, "failed" => stats.failed, "enqueued" => stats.enqueued,
      "scheduled_size" => stats.scheduled_size, "retry_size" => stats.retry_size,
      "dead_size" => stats.dead_size, "processes_size" => stats.processes_size,
      "workers_size" => stats.workers_size, "queues" => stats.queues
    },
    "history" => { "processed" => history.processed, "failed" => history.failed },
    "queues" => Sidekiq::Queue.all.to_h { |queue|
      [queue.name, { "size" => queue.size, "latency" => queue.latency,
                     "jobs" => queue.map { |record| job(record) } }]
    },
    "scheduled" => sorted_set(Sidekiq::ScheduledSet),
    "retries" => sorted_set(Sidekiq::RetrySet),
    "dead" => sorted_set(Sidekiq::DeadSet),
    "processes" => Sidekiq::ProcessSet.new.map { |process|
      %w[hostname pid tag concurrency busy beat quiet labels started_at identity].to_h { |key|
        [key, process[key]]
      }.merge("queues" => process.queues, "stopping?" => process.stopping?)
    },
    "workers" => Sidekiq::Workers.new.map { |process_id, thread_id, work|
      { "process_id" => process_id, "thread_id" => thread_id, "queue" => work["queue"],
        "run_at" => work["run_at"], "payload" => work["payload"] }
    }
  }
end

def set_named(name)
  { "retry" => Sidekiq::RetrySet, "dead" => Sidekiq::DeadSet }.fetch(name).new
end

def web(paths)
  require "sidekiq/web"
  require "rack/mock"
  app = Rack::MockRequest.new(Sidekiq::Web)
  paths.to_h do |path|
    response = app.get(path, "rack.session" => {})
    [path, { "status" => response.status, "body" => response.body }]
  end
end

# Sidekiq::Web behind a real cookie session, as its docs set it up for a bare Rack app; the
# cookie is carried from request to request like a browser's.
class Browser
  def initialize
    require "securerandom"
    require "sidekiq/web"
    require "rack/mock"
    require "rack/session/cookie"
    secret = SecureRandom.hex(64)
    app = Rack::Builder.new do
      use Rack::Session::Cookie, secret: secret, same_site: true, max_age: 86_400
      run Sidekiq::Web
    end
    @app = Rack::MockRequest.new(app)
    @cookie = nil
  end

  def request(method, path, params = nil)
    env = @cookie ? { "HTTP_COOKIE" => @cookie } : {}
    env[:params] = params if params
    response = @app.request(method, path, env)
    set = response.headers["Set-Cookie"]
    @cookie = set.split(";").first if set
    response
  end
end

def press(page, button, jids, forged: false)
  browser = Browser.new
  shown = browser.request("GET", page)
  abort "GET #{page}: #{shown.status}" unless shown.status == 200
  html = shown.body
  form = html[/<form[^>]*method=["']post["'][^>]*>.*?<\/form>/m] or abort "no form on #{page}"
  action = form[/action=["']([^"']+)["']/, 1]
  button_input = form[/<input[^>]*name=["']#{Regexp.escape(button)}["'][^>]*>/] or
    abort "no #{button} button in the form of #{page}"
  params = { button => button_input[/value=["']([^"']*)["']/, 1] }
  params["authenticity_token"] = form[/name=["']authenticity_token["'] value=["']([^"']+)/, 1] unless forged
  keys = form.scan(/name=["']key\[\]["'] value=["']([^"']+)["']/).flatten
  keys = keys.select { |key| jids.include?(key.split("-", 2).last) }
  abort "no checkbox for #{jids.inspect} on #{page}" if jids.any? && keys.size != jids.size
  params["key"] = keys if keys.any?
  response = browser.request("POST", action, params)
  { "status" => response.status, "location" => response.headers["Location"], "keys" => keys,
    "action" => action }
end

command, *args = ARGV
result =
  case command
  when "push"
    item = { "class" => args.fetch(0), "args" => JSON.parse(args.fetch(1)) }
    item["queue"] = args[2] if args[2]
    { "jid" => Sidekiq::Client.push(item) }
  when "push_in"
    at = Time.now.to_f + Float(args.fetch(0))
    { "jid" => Sidekiq::Client.push("class" => args.fetch(1), "args" => JSON.parse(args.fetch(2)),
                                    "at" => at), "at" => at }
  when "snapshot"
    snapshot
  when "retry_all"
    set_named(args.fetch(0)).retry_all
    { "ok" => true }
  when "retry_each"
    set_named(args.fetch(0)).each(&:retry)
    { "ok" => true }
  when "add_to_queue"
    Sidekiq::ScheduledSet.new.each(&:add_to_queue)
    { "ok" => true }
  when "signal"
    Sidekiq::ProcessSet.new.each { |process| args.fetch(0) == "stop" ? process.stop! : process.quiet! }
    { "ok" => true }
  when "web"
    web(args)
  when "press", "press-forged"
    press(args.fetch(0), args.fetch(1), args.drop(2), forged: command == "press-forged")
  else
    abort "unknown command #{command.inspect}"
  end
puts JSON.generate(result)
