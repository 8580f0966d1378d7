namespace Vimage.Core;

#pragma warning disable CA1707 // FreeBSD's names are kept on purpose: users know them.

/// <summary>FreeBSD's sysinit subsystem ids (sys/kernel.h). VNET constructors must lie in (SI_SUB_VNET, SI_SUB_VNET_DONE].</summary>
public enum SiSub : uint
{
    SI_SUB_DUMMY = 0x0000000,
    SI_SUB_COUNTER = 0x1100000,
    SI_SUB_VNET_PRELINK = 0x1E00000,
    SI_SUB_KLD = 0x2000000,
    SI_SUB_VNET = 0x21E0000,
    SI_SUB_INIT_IF = 0x3000000,
    SI_SUB_PSEUDO = 0x7000000,
    SI_SUB_PROTO_BEGIN = 0x8000000,
    SI_SUB_PROTO_PFIL = 0x8100000,
    SI_SUB_PROTO_IF = 0x8400000,
    SI_SUB_PROTO_DOMAININIT = 0x8600000,
    SI_SUB_PROTO_MC = 0x8700000,
    SI_SUB_PROTO_DOMAIN = 0x8800000,
    SI_SUB_PROTO_FIREWALL = 0x8806000,
    SI_SUB_PROTO_IFATTACHDOMAIN = 0x8808000,
    SI_SUB_PROTO_END = 0x8ffffff,
    SI_SUB_VNET_DONE = 0xdc00000,
}

/// <summary>FreeBSD's sysinit element orders.</summary>
public enum SiOrder : uint
{
    SI_ORDER_FIRST = 0x0,
    SI_ORDER_SECOND = 0x1,
    SI_ORDER_THIRD = 0x2,
    SI_ORDER_FOURTH = 0x3,
    SI_ORDER_FIFTH = 0x4,
    SI_ORDER_SIXTH = 0x5,
    SI_ORDER_SEVENTH = 0x6,
    SI_ORDER_EIGHTH = 0x7,
    SI_ORDER_MIDDLE = 0x1000000,
    SI_ORDER_ANY = 0xfffffff,
}
