"""What every tool needs the same way: hashing, atomic writes, provenance and the resumable cache."""
