"""Settings shared by every test."""

from hypothesis import settings

# Speed is measured in benchmarks, never in tests: no property test fails for taking longer
# than hypothesis's default 200 ms on a loaded machine (a CI runner, two test runs at once).
settings.register_profile("s3doctor", deadline=None)
settings.load_profile("s3doctor")
