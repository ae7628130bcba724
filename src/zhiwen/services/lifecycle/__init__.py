"""Golden sets, evaluation, releases, the gate, tuning, and the model family every gated model shares."""
