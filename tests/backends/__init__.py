"""Real key backends started for the tests: SoftHSM2 tokens, OpenBao servers, and moto for AWS KMS."""
