package daemon

// PermissionProblems is not checked on Windows yet: the config and state
// folders under %ProgramData% inherit ACLs that let only Administrators
// and SYSTEM write. It returns nothing.
func PermissionProblems(configPath, stateDir string) []string { return nil }
