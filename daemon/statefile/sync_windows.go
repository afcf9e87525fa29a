package statefile

// syncDir does nothing on Windows: a directory cannot be opened for
// flushing there, and NTFS journals the rename itself.
func syncDir(dir string) error { return nil }

// isUnsupported reports an error of a filesystem that cannot do what was
// asked; Windows has no such case for the calls made here.
func isUnsupported(err error) bool { return false }
