"""The running product: lifecycle and signals, the frame loop, the vision handoff,
faults and status, commands and reload. `signage run` starts `Kiosk`."""
