using NodeAgent.Contract;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>A lease's placement constraints, checked at the boundary: names that become filter reasons and store columns.</summary>
internal static partial class WireMapping
{
    public const int MaxRequiredFeatures = 16;
    public const int MaxRequiredLabels = 16;

    /// <summary>The constraints, normalized (architecture aliases resolved, duplicates dropped); null when they constrain nothing.</summary>
    public static V1.PlacementConstraints? ToPlacement(V1.PlacementConstraints? wire, RequestValidator v)
    {
        if (wire is null)
        {
            return null;
        }

        v.Count("placement.required_features", wire.RequiredFeatures.Count, MaxRequiredFeatures);
        v.Count("placement.required_labels", wire.RequiredLabels.Count, MaxRequiredLabels);
        var checkedOne = new V1.PlacementConstraints
        {
            Architecture = wire.Architecture.Length == 0 ? string.Empty : Placement.CpuArchitecture.Normalize(v.Name("placement.architecture", wire.Architecture)),
            AntiAffinityGroup = wire.AntiAffinityGroup.Length == 0 ? string.Empty : v.Name("placement.anti_affinity_group", wire.AntiAffinityGroup),
            SpreadGroup = wire.SpreadGroup.Length == 0 ? string.Empty : v.Name("placement.spread_group", wire.SpreadGroup),
        };
        checkedOne.RequiredFeatures.Add(wire.RequiredFeatures.Take(MaxRequiredFeatures)
            .Select(f => v.Name("placement.required_features entry", f)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        foreach (var (key, value) in wire.RequiredLabels.Take(MaxRequiredLabels))
        {
            checkedOne.RequiredLabels[v.Name("placement.required_labels key", key)] =
                v.Text($"placement.required_labels[{IdSyntax.Printable(key)}]", value, required: false);
        }

        return checkedOne.Equals(new V1.PlacementConstraints()) ? null : checkedOne;
    }
}
