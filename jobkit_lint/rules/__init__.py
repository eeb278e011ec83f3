"""Rule modules; each defines exactly one :class:`jobkit_lint.rule.Rule` subclass."""
