namespace Sluice.Policy.Addresses;

/// <summary>What kind of destination an address is, as far as the address guard is concerned.</summary>
public enum AddressClass
{
    Public,
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    CarrierGradeNat,
    Multicast,
    Broadcast,
    Reserved,
}
