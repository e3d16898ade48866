"""Everything a request crosses: VNets, subnets, NSGs, peering, private DNS, Bastion, WAF and gateway."""
