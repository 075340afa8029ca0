"""Collection strategies: segments, ordered steps, daily runs, previews and champion/challenger."""
