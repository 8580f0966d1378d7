global using Xunit;

// Vnets, interfaces and the mbuf pool are process-wide: tests that count them must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
