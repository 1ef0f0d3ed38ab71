"""License catalogue, departments, issuance, status, holder directory and pages."""
