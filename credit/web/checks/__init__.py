"""Credit checks in the browser (信用核查): checkers check firms and print receipts; admins read the log."""
