"""The local stack's lifecycle: start (`slotstack up`), record in state.json, stop (`slotstack down`)."""
