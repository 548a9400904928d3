"""The real-provider tier: provider-aws v2.5.0 built from source, reconciling what we render against moto."""
