"""A clock the test moves by hand, for code that takes its time source as a callable."""


class ManualClock:
    """Answers `now` until the test sets or advances it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
