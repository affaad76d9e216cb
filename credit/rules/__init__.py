"""The rule set and its evaluation: pure functions over plain facts (no session, no Flask).

`ruleset` reads and checks a rule set (data), `dates` holds the calendar arithmetic of windows and
deadlines, `evaluate` assesses one firm with an explanation, and `sql` compiles the same rules to
set-based SQL for a whole city at once."""
