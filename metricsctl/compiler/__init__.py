"""The compiler: semantic spec + query -> plan -> sqlglot expression -> SQL in the target's dialect."""
