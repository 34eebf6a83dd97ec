"""The sending engine: how a broadcast's deliveries reach Twilio at the sender's rate.

Layered; each module imports only those below it (tests/test_architecture.py):

    jobs         the RQ job entry points: fan_out, send_batch, reconcile
    reconcile    makes the queue match the database, on worker start and every tick
    batches      one send job's batch: triage, claim, pace, record, for a slice of time
    pacing       the asyncio loop that starts each send at its throttle slot
    bookkeeping  a send job's database work, in child processes beside the loop
    deliveries   a delivery's states: triage, claim, record, retry
    queueing     the Redis leases of queued and running jobs, and queueing them
    process      what jobs run with in this process: settings, database, Twilio, Redis
    throttle, quiet_hours   the per-sender rate in Redis; when a contact may be reached

The broadcast domain it sends for (broadcasts, audiences, fan-out, events) is
`bot.broadcasts`; the rules for any one send are `bot.msgs.sending`.
"""
