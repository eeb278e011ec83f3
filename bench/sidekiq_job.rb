# The Sidekiq peer of bench/throughput.py: `sidekiq -r ./bench/sidekiq_job.rb -c C`.
# Runs the Sidekiq-format payloads jobkit enqueues, with the bodies of bench/bodies.py.
require "sidekiq"

# Per-job start/done lines off, as `jobkit worker --log-level WARNING` in the same benchmark.
Sidekiq.logger.level = Logger::WARN

module BenchRedis
  # One connection per thread, as the Python bodies hold one per thread.
  def self.client
    Thread.current[:bench_redis] ||= Redis.new(url: ENV.fetch("BENCH_REDIS_URL"))
  end
end

class NoopJob
  include Sidekiq::Worker

  def perform(n)
  end
end

class RedisCallJob
  include Sidekiq::Worker

  def perform(n)
    BenchRedis.client.incr("bench:calls")
  end
end

class Io10msJob
  include Sidekiq::Worker

  def perform(n)
    sleep(0.01)
  end
end

class ProbeJob
  include Sidekiq::Worker

  def perform(enqueued_at)
    latency = Time.now.to_f - enqueued_at
    BenchRedis.client.rpush("bench:latency", latency)
  end
end
