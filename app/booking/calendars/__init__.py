"""Connected calendars: fetching feeds safely, expanding them within a budget, syncing them in the background."""
