"""One module per policy. Each validator is a plain function over (type, props), so tests call it
directly with recorded or hand-written inputs; `policy.pack` adapts them to pulumi-policy."""
