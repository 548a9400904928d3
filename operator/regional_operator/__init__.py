"""regional-operator: one RegionalDeployment in, Crossplane v2 managed resources for every region out."""
