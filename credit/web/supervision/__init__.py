"""Staff pages of supervision (issue 12): 双随机 plans, the inspector roster and the honour rolls."""
