/**
 * Azure region names. ARM takes either spelling ("westeurope", "West Europe"); Azure Monitor's
 * `Location` dimension of API Management metrics reports the display name.
 */
const DISPLAY_NAMES: readonly string[] = [
  "Australia Central",
  "Australia Central 2",
  "Australia East",
  "Australia Southeast",
  "Austria East",
  "Belgium Central",
  "Brazil South",
  "Brazil Southeast",
  "Canada Central",
  "Canada East",
  "Central India",
  "Central US",
  "Central US EUAP",
  "Chile Central",
  "East Asia",
  "East US",
  "East US 2",
  "East US 2 EUAP",
  "France Central",
  "France South",
  "Germany North",
  "Germany West Central",
  "Indonesia Central",
  "Israel Central",
  "Italy North",
  "Japan East",
  "Japan West",
  "Jio India Central",
  "Jio India West",
  "Korea Central",
  "Korea South",
  "Malaysia West",
  "Mexico Central",
  "New Zealand North",
  "North Central US",
  "North Europe",
  "Norway East",
  "Norway West",
  "Poland Central",
  "Qatar Central",
  "South Africa North",
  "South Africa West",
  "South Central US",
  "South India",
  "Southeast Asia",
  "Spain Central",
  "Sweden Central",
  "Sweden South",
  "Switzerland North",
  "Switzerland West",
  "UAE Central",
  "UAE North",
  "UK South",
  "UK West",
  "West Central US",
  "West Europe",
  "West India",
  "West US",
  "West US 2",
  "West US 3",
];

const BY_NAME = new Map(DISPLAY_NAMES.map((d) => [normalizeRegion(d), d]));

/** "West Europe" → "westeurope". */
export function normalizeRegion(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}

/** "westeurope" or "West Europe" → "West Europe"; an unknown region keeps its own spelling. */
export function regionDisplayName(location: string): string {
  return BY_NAME.get(normalizeRegion(location)) ?? location;
}
