"""slotstack uptime monitor: probes cells, groups failures into incidents, pages whoever is on call."""

__version__ = "0.1.0"
