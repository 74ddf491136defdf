"""The manage wing: flags, experiments, groups, deployments, cohorts, keys, users, versions
and project files, as the Management API, the console and the CLI change them."""
