package osdns

import "context"

// New returns the backend for this machine: the one that saved the
// record, if there is one (the mechanism we started with is the one that
// can restore exactly), or else the one Detector finds.
func New(ctx context.Context, env Env) (Configurator, error) {
	rec, err := loadRecord(env.StateDir)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		return NewFor(rec.Mode, env)
	}
	mode, why, err := NewDetector(env).Detect(ctx)
	if err != nil {
		return nil, err
	}
	if env.Log != nil {
		env.Log.Info("found who manages DNS", "mode", mode, "why", why)
	}
	return NewFor(mode, env)
}
