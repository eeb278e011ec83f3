"""One module per system measured by bench/throughput.py.

Each module defines ``NAME``, ``DB`` (its own Redis database, flushed before and after each
run), ``WORKER`` (a one-line description of its worker setup) and:

- ``setup(url)``: configure the client side against ``url``;
- ``enqueue_single(n)``: enqueue ``n`` no-op jobs (argument ``i``) one call at a time;
- ``enqueue_bulk(n)``: the same through the peer's own bulk API, or ``None`` when it has none;
- ``fill(n)``: enqueue ``n`` jobs as fast as the peer allows (the processing backlog);
- ``worker_command(url)``: ``(argv, extra_env)`` of one worker process, or ``None``;
- ``remaining(r, n)``: jobs of the ``n`` enqueued ones not yet processed, read from Redis.
"""
