"""The wire: everything between a request body and its answer. The send loop (`sender`), the
transport faults it retries and the errors they become (`faults`), which limit ended an answer
at "length" and whether the server stopped it early (`stops`), what response headers say about
waiting (`headers`), pacing and rate limits (`pacing`, `ratelimit`), the call record and the log
and cache it goes to (`calls`), and answers replayed from cassettes (`replay`)."""
