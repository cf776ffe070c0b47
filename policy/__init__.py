"""mlplatform's Pulumi policy pack: rules in `policy.rules`, wiring in `policy.pack`."""
