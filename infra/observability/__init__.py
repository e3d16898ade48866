"""Azure-side observability of a cell.

Logs (Log Analytics, diagnostic settings, Azure Monitor Agent), availability tests (Application
Insights standard web tests) and who gets told (action groups, metric and log alerts). Traffic Manager
is in infra/network; the failover switch the alerts follow is infra/failover.py.
Every component takes its dependencies as ids in its Args, so each is built and tested alone.
"""
