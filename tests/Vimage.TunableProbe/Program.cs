using Vimage.Core;
using Vimage.TunableProbe;

// Prints "<vnet>: ttl=<value> global=<value>" for vnet0 and, with VIMAGE, a vnet created afterwards.
foreach (string line in Probe.Report())
{
    Console.WriteLine(line);
}

foreach (string error in SysctlTunables.ErrorLog)
{
    Console.WriteLine("error: " + error);
}
