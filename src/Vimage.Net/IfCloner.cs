namespace Vimage.Net;

/// <summary>
/// An interface cloner (struct if_clone): makes <c>name</c>N interfaces on <c>ifconfig name create</c> in the
/// current vnet. Unit numbers are allocated per vnet, so two vnets can each have epair0.
/// </summary>
public abstract class IfCloner(string name)
{
    public string Name { get; } = name;

    /// <summary>Creates the interfaces for <paramref name="unit"/> in the current vnet and attaches them.</summary>
    protected internal abstract IReadOnlyList<Ifnet> Create(int unit);

    /// <summary>Destroys <paramref name="ifp"/> (and whatever belongs with it, such as the other end of an epair).</summary>
    protected internal abstract void Destroy(Ifnet ifp);

    /// <summary>Whether ifconfig may destroy it (lo0 of a vnet may not).</summary>
    protected internal virtual bool CanDestroy(Ifnet ifp) => true;

    /// <summary>The names unit <paramref name="unit"/> would take (epair5 → epair5a, epair5b).</summary>
    protected internal virtual IEnumerable<string> NamesFor(int unit) => [Name + unit];

    /// <summary>The unit an interface of this cloner was created with.</summary>
    protected internal abstract int UnitOf(Ifnet ifp);
}
