"""Azure-side observability and disaster recovery of a cell (issue 6).

Logs (Log Analytics, diagnostic settings, Azure Monitor Agent), availability tests (Application
Insights standard web tests), who gets told (action groups, metric and log alerts) and failover
(Traffic Manager and the `failover_plan` switch that fleet sizes and the database follow).
Every component takes its dependencies as ids in its Args, so each is built and tested alone.
"""
