"""From a customer's message to a cited answer or a handoff: choosing the passage, extracting,
confidence, follow-ups, feedback."""
