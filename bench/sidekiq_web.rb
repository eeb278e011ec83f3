# Times Sidekiq 6.4's Web UI on the keys bench/web.py wrote: each path REQUESTS times through
# Rack::MockRequest (in-process, no HTTP). Prints {PATH: median milliseconds} as JSON.
#   SIDEKIQ_REDIS_URL=redis://127.0.0.1:6379/15 ruby bench/sidekiq_web.rb 20 /morgue /queues
require "json"
require "sidekiq"
require "sidekiq/web"
require "rack/mock"

Sidekiq.configure_client { |config| config.redis = { url: ENV.fetch("SIDEKIQ_REDIS_URL") } }
requests, *paths = ARGV
app = Rack::MockRequest.new(Sidekiq::Web)
result = paths.to_h do |path|
  app.get(path, "rack.session" => {}) # warm-up
  times = Array.new(Integer(requests)) do
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    response = app.get(path, "rack.session" => {})
    raise "#{path}: HTTP #{response.status}" unless response.status == 200
    (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000
  end.sort
  [path, times[times.size / 2].round(2)]
end
puts JSON.generate(result)
