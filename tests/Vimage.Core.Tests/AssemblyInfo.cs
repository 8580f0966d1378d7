// The DPCPU and VNET systems are process-wide, like a kernel: tests that count vnets, modules or reserve
// bytes must not interleave.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
