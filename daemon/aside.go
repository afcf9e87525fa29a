package daemon

import "os"

// renameAside moves a state file that cannot be used out of the way, for
// inspection.
func renameAside(path, aside string) error { return os.Rename(path, aside) }
