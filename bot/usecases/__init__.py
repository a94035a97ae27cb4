"""Use cases: one async function per user action (open a unit of work, load, call the
rules, write, commit, return a typed outcome). Handlers and jobs call exactly one."""
