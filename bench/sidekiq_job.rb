# The Sidekiq peer of bench/throughput.py: `sidekiq -r ./bench/sidekiq_job.rb -c 10`.
# Runs the Sidekiq-format payloads jobkit enqueues (class "NoopJob", one int argument).
require "sidekiq"

# Per-job start/done lines off, as `jobkit worker --log-level WARNING` in the same benchmark.
Sidekiq.logger.level = Logger::WARN

class NoopJob
  include Sidekiq::Worker

  def perform(n)
  end
end
