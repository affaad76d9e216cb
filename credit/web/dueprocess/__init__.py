"""Due process in the browser (staff): black-list decisions, waivers, notices, objections and credit
repair."""
