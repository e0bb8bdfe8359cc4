"""The supervision engine: calendar in the store, case clocks, verdicts, sweep, reassessment.

Other parts subscribe to new verdicts with :func:`collector.engine.events.on_new_verdicts`.
"""
