"""The uptime monitor's deployment on AWS: outside the cells' cloud, so an Azure outage still pages."""
