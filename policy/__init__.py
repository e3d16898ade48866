"""slotstack's Pulumi CrossGuard policy pack: residency and security rules, enforced at preview."""
