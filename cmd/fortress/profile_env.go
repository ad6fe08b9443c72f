package main

// The variables that ask a binary built with -tags pprof for profiles of the serving process. They are
// read in every build, so that the default build can say it has no profiler rather than ignore them.
const (
	envCPUProfile   = "FORTRESS_CPU_PROFILE"   // the CPU profile, from the moment the API is built until the server stops
	envAllocProfile = "FORTRESS_ALLOC_PROFILE" // pprof's allocs profile (every allocation since start, sampled), at stop
)

// profilePaths are the profile files the environment asks for; empty when not asked.
func profilePaths(getenv func(string) string) (cpu, allocs string) {
	return getenv(envCPUProfile), getenv(envAllocProfile)
}
