"""The batch job over an archive: readers (`readers`), the scheduler (`scheduler`), the store
that finishes each article atomically (`store`: the ledger in `ledger`, the files in
`outputs`), the budget (`budget`), and the dry-run plan (`plan`)."""
