"""The user domain: entities, value objects, events and errors, free of any framework."""
