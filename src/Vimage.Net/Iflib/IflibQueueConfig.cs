namespace Vimage.Net.Iflib;

/// <summary>
/// One queue configuration: TX and RX qset counts (independent, may exceed the CPU count) and ring sizes
/// (isc_ntxd / isc_nrxd, powers of two), and the TX mp_ring's size (iflib's 2048; a device that needs thousands
/// of small interfaces, such as a lab's links, may ask for less).
/// </summary>
public sealed record IflibQueueConfig(int TxQueues, int RxQueues, int TxDescriptors, int RxDescriptors, int TxRingSize = IflibContext.MpRingSize)
{
    public const int MinDescriptors = 16;
    public const int MaxDescriptors = 16384;

    /// <summary>Checks counts and sizes; the error names the knob as iflib's sysctls do.</summary>
    public void Validate(int maxQueueSets)
    {
        CheckCount("override_ntxqs", TxQueues, maxQueueSets);
        CheckCount("override_nrxqs", RxQueues, maxQueueSets);
        CheckRing("override_ntxds", TxDescriptors);
        CheckRing("override_nrxds", RxDescriptors);
        if (TxRingSize < MpRing.MinSize || TxRingSize > MpRing.MaxSize || (TxRingSize & (TxRingSize - 1)) != 0)
        {
            throw new IfException(IfError.InvalidArgument,
                $"iflib: mp_ring size {TxRingSize}: must be a power of two from {MpRing.MinSize} to {MpRing.MaxSize}");
        }
    }

    private static void CheckCount(string knob, int value, int max)
    {
        if (value < 1 || value > max)
        {
            throw new IfException(IfError.InvalidArgument, $"iflib: {knob}={value}: must be 1 to {max}");
        }
    }

    private static void CheckRing(string knob, int value)
    {
        if (value < MinDescriptors || value > MaxDescriptors || (value & (value - 1)) != 0)
        {
            throw new IfException(IfError.InvalidArgument,
                $"iflib: {knob}={value}: must be a power of two from {MinDescriptors} to {MaxDescriptors}");
        }
    }
}
