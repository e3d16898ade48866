"""The fleet of a cell: the app release (wheel -> blob), cloud-init, the VM Scale Set and autoscale."""
