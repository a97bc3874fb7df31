"""The demo portfolio: a deterministic, realistic customer file for a Spanish business.

:func:`generate_demo` fills an empty customer file with companies, customers, three years of orders,
interactions and tasks, and creates the demo users (``admin``, ``manager``, ``ana``, ``luis``).
The same ``seed`` and ``today`` give the same data, row for row.

The business is a retailer of home and technology products that also sells to companies (about one
customer in ten works for a company). Purchases follow a repeat-buying process, so that the
analytics have something true to find:

* each buyer has an acquisition date (the first purchase) and a purchase rate drawn from a gamma
  distribution: a few buy every week, most a few times a year, some never come back;
* after each repeat purchase a buyer may become inactive for good, with a probability drawn from a
  beta distribution (the BG/NBD story of Fader, Hardie & Lee, *Counting Your Customers the Easy
  Way*, Marketing Science 24(2), 2005);
* a "slipping away" group does not stop at once: their rate decays exponentially, so their orders
  thin out month after month;
* order values follow the gamma-gamma spend model (Fader, Hardie & Lee 2005, *RFM and CLV*):
  each customer has their own gamma-distributed average spend.

So active, declining and inactive customers, one-time buyers and people who never bought all exist.

Speed: a million customers and ten million orders are written in a few minutes. Rows are built
column by column with numpy and written with the driver's fastest path (``executemany`` on SQLite,
``COPY`` on PostgreSQL); for the big size the secondary indexes are dropped during the load and
rebuilt once at the end, which is several times faster than maintaining them row by row.

Every email address and web site is under the reserved ``example`` domains (RFC 2606), so a demo
can never write to a real person.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from faker import Faker

from cartera.accounts import roles
from cartera.accounts.models import User
from cartera.accounts.services import user_create
from cartera.activity.models import Direction, Interaction, InteractionKind, Outcome, Task
from cartera.core.database import update_planner_statistics
from cartera.core.text import fold
from cartera.customers.models import (
    Channel,
    Company,
    CompanySize,
    Customer,
    CustomField,
    CustomFieldType,
    IncomeRange,
    Source,
    Stage,
    Tag,
    Title,
)
from cartera.sales.models import Order, SalesChannel

DEMO_PASSWORD = "cartera-demo"  # noqa: S105 - published on purpose: these are the demo logins
ORDER_SOURCE = "demo"
BIG_CUSTOMERS = 1_000_000
DEFAULT_ORDERS_PER_CUSTOMER = 10.0

# Above this size the load drops and rebuilds indexes and relaxes durability for its duration.
BULK_LOAD_THRESHOLD = 100_000
# Customers generated and written per step: bounds memory (about 10 orders per customer) whatever
# the size.
CHUNK = 50_000

Progress = Callable[[str, int, int], None]


class DemoUser(NamedTuple):
    username: str
    role: str
    first_name: str
    last_name: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", roles.ADMIN, "Carmen", "Ruiz Ortega"),
    DemoUser("manager", roles.MANAGER, "Javier", "Morales Gil"),
    DemoUser("ana", roles.SALES_REP, "Ana", "Torres Vidal"),
    DemoUser("luis", roles.SALES_REP, "Luis", "Navarro Campos"),
)


class DemoError(Exception):
    """The demo portfolio cannot be generated here (the customer file is not empty)."""


@dataclass
class DemoStats:
    """What :func:`generate_demo` wrote, and how long it took."""

    customers: int = 0
    companies: int = 0
    orders: int = 0
    interactions: int = 0
    tasks: int = 0
    tag_links: int = 0
    users_created: list[str] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


# --- reference data -------------------------------------------------------------------------------


class Province(NamedTuple):
    code: str  # INE code = first two digits of the postal code
    name: str
    community: str
    population: int  # tens of thousands, as sampling weight
    towns: tuple[str, ...]  # capital first


PROVINCES: tuple[Province, ...] = (
    Province("01", "Álava", "País Vasco", 33, ("Vitoria-Gasteiz", "Llodio", "Amurrio")),
    Province("02", "Albacete", "Castilla-La Mancha", 39, ("Albacete", "Hellín", "Villarrobledo")),
    Province("03", "Alicante", "Comunitat Valenciana", 190, ("Alicante", "Elche", "Torrevieja", "Benidorm", "Orihuela")),
    Province("04", "Almería", "Andalucía", 74, ("Almería", "Roquetas de Mar", "El Ejido")),
    Province("05", "Ávila", "Castilla y León", 16, ("Ávila", "Arévalo")),
    Province("06", "Badajoz", "Extremadura", 67, ("Badajoz", "Mérida", "Don Benito")),
    Province("07", "Illes Balears", "Illes Balears", 118, ("Palma", "Calvià", "Manacor", "Eivissa", "Maó")),
    Province("08", "Barcelona", "Cataluña", 577, (
        "Barcelona", "L'Hospitalet de Llobregat", "Badalona", "Terrassa", "Sabadell", "Mataró",
    )),
    Province("09", "Burgos", "Castilla y León", 36, ("Burgos", "Miranda de Ebro", "Aranda de Duero")),
    Province("10", "Cáceres", "Extremadura", 39, ("Cáceres", "Plasencia", "Navalmoral de la Mata")),
    Province("11", "Cádiz", "Andalucía", 125, ("Cádiz", "Jerez de la Frontera", "Algeciras", "San Fernando")),
    Province("12", "Castellón", "Comunitat Valenciana", 59, ("Castellón de la Plana", "Vila-real", "Burriana")),
    Province("13", "Ciudad Real", "Castilla-La Mancha", 49, ("Ciudad Real", "Puertollano", "Tomelloso")),
    Province("14", "Córdoba", "Andalucía", 78, ("Córdoba", "Lucena", "Puente Genil")),
    Province("15", "A Coruña", "Galicia", 112, ("A Coruña", "Santiago de Compostela", "Ferrol")),
    Province("16", "Cuenca", "Castilla-La Mancha", 20, ("Cuenca", "Tarancón")),
    Province("17", "Girona", "Cataluña", 79, ("Girona", "Figueres", "Blanes")),
    Province("18", "Granada", "Andalucía", 92, ("Granada", "Motril", "Almuñécar")),
    Province("19", "Guadalajara", "Castilla-La Mancha", 27, ("Guadalajara", "Azuqueca de Henares")),
    Province("20", "Gipuzkoa", "País Vasco", 72, ("Donostia-San Sebastián", "Irun", "Errenteria")),
    Province("21", "Huelva", "Andalucía", 52, ("Huelva", "Lepe", "Almonte")),
    Province("22", "Huesca", "Aragón", 22, ("Huesca", "Monzón", "Barbastro")),
    Province("23", "Jaén", "Andalucía", 63, ("Jaén", "Linares", "Úbeda")),
    Province("24", "León", "Castilla y León", 45, ("León", "Ponferrada", "San Andrés del Rabanedo")),
    Province("25", "Lleida", "Cataluña", 44, ("Lleida", "Balaguer", "Tàrrega")),
    Province("26", "La Rioja", "La Rioja", 32, ("Logroño", "Calahorra", "Arnedo")),
    Province("27", "Lugo", "Galicia", 33, ("Lugo", "Monforte de Lemos", "Viveiro")),
    Province("28", "Madrid", "Comunidad de Madrid", 690, (
        "Madrid", "Móstoles", "Alcalá de Henares", "Fuenlabrada", "Leganés", "Getafe", "Alcorcón",
    )),
    Province("29", "Málaga", "Andalucía", 170, ("Málaga", "Marbella", "Mijas", "Fuengirola", "Vélez-Málaga")),
    Province("30", "Murcia", "Región de Murcia", 153, ("Murcia", "Cartagena", "Lorca", "Molina de Segura")),
    Province("31", "Navarra", "Comunidad Foral de Navarra", 66, ("Pamplona", "Tudela", "Barañáin")),
    Province("32", "Ourense", "Galicia", 31, ("Ourense", "Verín", "O Barco de Valdeorras")),
    Province("33", "Asturias", "Principado de Asturias", 101, ("Oviedo", "Gijón", "Avilés")),
    Province("34", "Palencia", "Castilla y León", 16, ("Palencia", "Aguilar de Campoo")),
    Province("35", "Las Palmas", "Canarias", 113, (
        "Las Palmas de Gran Canaria", "Telde", "Arrecife", "Santa Lucía de Tirajana",
    )),
    Province("36", "Pontevedra", "Galicia", 94, ("Pontevedra", "Vigo", "Vilagarcía de Arousa")),
    Province("37", "Salamanca", "Castilla y León", 33, ("Salamanca", "Béjar", "Ciudad Rodrigo")),
    Province("38", "Santa Cruz de Tenerife", "Canarias", 104, (
        "Santa Cruz de Tenerife", "San Cristóbal de La Laguna", "Arona", "Los Llanos de Aridane",
    )),
    Province("39", "Cantabria", "Cantabria", 58, ("Santander", "Torrelavega", "Castro-Urdiales")),
    Province("40", "Segovia", "Castilla y León", 15, ("Segovia", "Cuéllar")),
    Province("41", "Sevilla", "Andalucía", 195, ("Sevilla", "Dos Hermanas", "Alcalá de Guadaíra", "Utrera")),
    Province("42", "Soria", "Castilla y León", 9, ("Soria", "Almazán")),
    Province("43", "Tarragona", "Cataluña", 82, ("Tarragona", "Reus", "Tortosa", "Cambrils")),
    Province("44", "Teruel", "Aragón", 13, ("Teruel", "Alcañiz")),
    Province("45", "Toledo", "Castilla-La Mancha", 71, ("Toledo", "Talavera de la Reina", "Illescas")),
    Province("46", "Valencia", "Comunitat Valenciana", 262, ("Valencia", "Torrent", "Gandia", "Paterna", "Sagunto")),
    Province("47", "Valladolid", "Castilla y León", 52, ("Valladolid", "Medina del Campo", "Laguna de Duero")),
    Province("48", "Bizkaia", "País Vasco", 115, ("Bilbao", "Barakaldo", "Getxo", "Portugalete")),
    Province("49", "Zamora", "Castilla y León", 17, ("Zamora", "Benavente", "Toro")),
    Province("50", "Zaragoza", "Aragón", 97, ("Zaragoza", "Calatayud", "Utebo")),
    Province("51", "Ceuta", "Ceuta", 8, ("Ceuta",)),
    Province("52", "Melilla", "Melilla", 9, ("Melilla",)),
)  # fmt: skip

# Most frequent Spanish names and surnames (thousands of people, INE); the rest of Faker's es_ES
# lists come in with a small weight, so "García" is common and "Abellán" rare, as in real files.
TOP_FEMALE = {
    "María Carmen": 650, "María": 600, "Carmen": 380, "Ana María": 300, "Laura": 260, "María Pilar": 250,
    "María Dolores": 250, "Isabel": 230, "Josefa": 220, "María Teresa": 210, "Ana": 210, "Marta": 200,
    "Cristina": 190, "Lucía": 180, "María Ángeles": 175, "Francisca": 170, "Antonia": 170, "Sara": 150,
    "Paula": 150, "Elena": 150, "Dolores": 145, "Raquel": 130, "Rosa María": 130, "Pilar": 130,
    "Manuela": 125, "Mercedes": 120, "Beatriz": 115, "Julia": 110, "Sofía": 100, "Silvia": 100,
    "Alba": 100, "Patricia": 100, "Andrea": 100, "Irene": 95, "Rocío": 95, "Rosario": 90, "Nuria": 90,
    "Teresa": 90, "Montserrat": 85, "Mónica": 80, "María José": 160, "Ana Isabel": 90,
}  # fmt: skip
TOP_MALE = {
    "Antonio": 660, "Manuel": 600, "José": 590, "Francisco": 520, "David": 370, "Juan": 370,
    "José Antonio": 360, "Javier": 330, "Daniel": 320, "José Luis": 310, "Francisco Javier": 300,
    "Carlos": 290, "Jesús": 280, "Alejandro": 270, "Miguel": 250, "José Manuel": 245, "Rafael": 240,
    "Pablo": 210, "Miguel Ángel": 205, "Pedro": 200, "Ángel": 200, "Sergio": 190, "Fernando": 190,
    "José María": 180, "Jorge": 180, "Luis": 175, "Alberto": 160, "Álvaro": 150, "Juan Carlos": 150,
    "Adrián": 140, "Diego": 130, "Juan José": 130, "Raúl": 125, "Iván": 120, "Rubén": 120,
    "Enrique": 120, "Óscar": 110, "Ramón": 105, "Andrés": 100, "Hugo": 95, "Mario": 95,
}  # fmt: skip
OTHER_NAME_WEIGHT = 8
TOP_SURNAMES = {
    "García": 1450, "Rodríguez": 925, "González": 920, "Fernández": 900, "López": 870, "Martínez": 835,
    "Sánchez": 815, "Pérez": 770, "Gómez": 490, "Martín": 485, "Jiménez": 395, "Ruiz": 355,
    "Hernández": 350, "Díaz": 340, "Moreno": 320, "Muñoz": 290, "Álvarez": 285, "Romero": 230,
    "Alonso": 210, "Gutiérrez": 200, "Navarro": 180, "Torres": 180, "Domínguez": 165, "Vázquez": 160,
    "Ramos": 160, "Gil": 150, "Ramírez": 150, "Serrano": 145, "Blanco": 140, "Molina": 135,
    "Morales": 130, "Suárez": 130, "Ortega": 130, "Delgado": 125, "Castro": 125, "Ortiz": 120,
    "Rubio": 118, "Marín": 115, "Sanz": 112, "Núñez": 110, "Iglesias": 108, "Medina": 106,
    "Garrido": 104, "Cortés": 100, "Castillo": 100, "Santos": 99, "Lozano": 98, "Guerrero": 97,
    "Cano": 96, "Prieto": 95,
}  # fmt: skip
OTHER_SURNAME_WEIGHT = 25

# (name, weight among individuals, weight among companies)
SECTORS: tuple[tuple[str, float, float], ...] = (
    ("Comercio", 14, 20), ("Hostelería y restauración", 9, 12), ("Construcción", 7, 11),
    ("Industria", 8, 10), ("Tecnología", 7, 9), ("Sanidad", 9, 5), ("Educación", 8, 4),
    ("Transporte y logística", 6, 7), ("Servicios profesionales", 10, 12),
    ("Agricultura y alimentación", 4, 5), ("Inmobiliario", 3, 3), ("Turismo", 4, 2),
    ("Administración pública", 8, 0), ("Energía", 2, 2),
)  # fmt: skip
COMPANY_STEMS: dict[str, tuple[str, ...]] = {
    "Comercio": ("Comercial", "Distribuciones", "Suministros", "Almacenes"),
    "Hostelería y restauración": ("Restaurante", "Hostal", "Cafetería", "Catering"),
    "Construcción": ("Construcciones", "Reformas", "Obras y Proyectos", "Promociones"),
    "Industria": ("Talleres", "Industrias", "Metalúrgica", "Plásticos"),
    "Tecnología": ("Sistemas", "Soluciones Informáticas", "Tecnologías", "Software"),
    "Sanidad": ("Clínica", "Centro Médico", "Farmacia", "Clínica Dental"),
    "Educación": ("Academia", "Centro de Estudios", "Escuela Infantil", "Autoescuela"),
    "Transporte y logística": ("Transportes", "Logística", "Mensajería"),
    "Servicios profesionales": ("Asesoría", "Consultoría", "Gestoría", "Abogados"),
    "Agricultura y alimentación": ("Bodegas", "Conservas", "Aceites", "Panadería"),
    "Inmobiliario": ("Inmobiliaria", "Gestión de Inmuebles", "Fincas"),
    "Turismo": ("Viajes", "Hoteles", "Apartamentos Turísticos"),
    "Energía": ("Instalaciones Eléctricas", "Energías Renovables", "Solar"),
}
# (suffix, weight, CIF letter)
COMPANY_FORMS: tuple[tuple[str, float, str], ...] = (
    ("S.L.", 68, "B"), ("S.A.", 14, "A"), ("S.L.U.", 9, "B"), ("S. Coop.", 5, "F"), ("S.L.L.", 4, "B"),
)  # fmt: skip
COMPANY_SIZES: tuple[tuple[str, float, float], ...] = (  # (size, weight, contacts weight)
    (CompanySize.MICRO, 55, 1), (CompanySize.SMALL, 30, 2), (CompanySize.MEDIUM, 11, 4), (CompanySize.LARGE, 4, 8),
)  # fmt: skip

# (male, female, weight)
PROFESSIONS: tuple[tuple[str, str, float], ...] = (
    ("Abogado", "Abogada", 3), ("Administrativo", "Administrativa", 9), ("Arquitecto", "Arquitecta", 1),
    ("Autónomo", "Autónoma", 6), ("Camarero", "Camarera", 4), ("Comercial", "Comercial", 5),
    ("Conductor", "Conductora", 3), ("Consultor", "Consultora", 2), ("Contable", "Contable", 2),
    ("Dependiente", "Dependienta", 5), ("Diseñador gráfico", "Diseñadora gráfica", 1),
    ("Economista", "Economista", 1), ("Electricista", "Electricista", 2), ("Enfermero", "Enfermera", 3),
    ("Farmacéutico", "Farmacéutica", 1), ("Fisioterapeuta", "Fisioterapeuta", 1),
    ("Fontanero", "Fontanera", 1), ("Funcionario", "Funcionaria", 6), ("Ingeniero", "Ingeniera", 3),
    ("Informático", "Informática", 3), ("Maestro", "Maestra", 3), ("Mecánico", "Mecánica", 2),
    ("Médico", "Médica", 2), ("Periodista", "Periodista", 1), ("Peluquero", "Peluquera", 1),
    ("Profesor", "Profesora", 3), ("Programador", "Programadora", 2), ("Psicólogo", "Psicóloga", 1),
    ("Agricultor", "Agricultora", 2), ("Cocinero", "Cocinera", 2), ("Policía", "Policía", 1),
    ("Veterinario", "Veterinaria", 1), ("Empresario", "Empresaria", 2),
    ("Técnico de mantenimiento", "Técnica de mantenimiento", 2),
    ("Auxiliar de enfermería", "Auxiliar de enfermería", 2), ("Agente inmobiliario", "Agente inmobiliaria", 1),
    ("Traductor", "Traductora", 1), ("Fotógrafo", "Fotógrafa", 1), ("Carpintero", "Carpintera", 1),
)  # fmt: skip
JOB_TITLES: tuple[tuple[str, str, float], ...] = (
    ("Gerente", "Gerente", 14), ("Director general", "Directora general", 5),
    ("Director comercial", "Directora comercial", 6), ("Responsable de compras", "Responsable de compras", 14),
    ("Jefe de administración", "Jefa de administración", 8), ("Director financiero", "Directora financiera", 4),
    ("Responsable de informática", "Responsable de informática", 6), ("Técnico de compras", "Técnica de compras", 8),
    ("Responsable de mantenimiento", "Responsable de mantenimiento", 5),
    ("Director de operaciones", "Directora de operaciones", 3), ("Socio fundador", "Socia fundadora", 6),
    ("Administrativo", "Administrativa", 10), ("Responsable de oficina", "Responsable de oficina", 7),
)  # fmt: skip

STREET_TYPES = (("Calle", 62), ("Avenida", 14), ("Plaza", 6), ("Paseo", 5), ("Camino", 3), ("Ronda", 3),
                ("Travesía", 3), ("Carretera", 2), ("Pasaje", 2))  # fmt: skip
STREET_NAMES = (
    "Mayor", "Real", "Nueva", "de la Constitución", "de Cervantes", "del Sol", "de San Francisco",
    "de Alcalá", "de la Paz", "del Carmen", "de Goya", "de Colón", "de la Libertad", "de Andalucía",
    "de Castilla", "de la Estación", "del Mar", "de los Olivos", "de las Flores", "de Santiago",
    "de la Iglesia", "del Pilar", "de Valencia", "de Madrid", "de Antonio Machado", "de Federico García Lorca",
    "de Miguel de Unamuno", "de Rosalía de Castro", "de Juan Ramón Jiménez", "de Blas de Otero",
    "de la Ermita", "del Molino", "de la Fuente", "del Río", "de los Almendros", "de Pablo Picasso",
    "de la Virgen", "de San Juan", "de Europa", "de América", "de la Marina", "del Progreso",
)  # fmt: skip

# Sales: (category, price factor, weight among individuals, weight among companies)
CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    ("Electrónica", 2.2, 14, 6), ("Informática", 3.0, 10, 22), ("Telefonía", 1.8, 10, 8),
    ("Electrodomésticos", 3.5, 9, 3), ("Hogar y cocina", 0.9, 16, 4), ("Bricolaje", 0.8, 8, 6),
    ("Jardín", 0.9, 6, 2), ("Deporte", 0.9, 8, 1), ("Juguetes", 0.7, 6, 0.5),
    ("Papelería y oficina", 0.5, 5, 25), ("Instalación y reparación", 1.3, 4, 12), ("Garantías", 0.5, 4, 6),
)  # fmt: skip
SALES_CHANNELS: tuple[tuple[str, float, float], ...] = (
    (SalesChannel.WEB, 42, 25), (SalesChannel.STORE, 32, 8), (SalesChannel.PHONE, 6, 22),
    (SalesChannel.SALES_REP, 2, 40), (SalesChannel.MARKETPLACE, 15, 2), (SalesChannel.OTHER, 3, 3),
)  # fmt: skip
CONTACT_CHANNELS: tuple[tuple[str, float], ...] = (
    (Channel.EMAIL, 40), (Channel.PHONE, 20), (Channel.WHATSAPP, 18), (Channel.SMS, 5), (Channel.MAIL, 5),
    (Channel.IN_PERSON, 12),
)  # fmt: skip
CHANNEL_WORDS = {
    Channel.EMAIL: "correo electrónico", Channel.PHONE: "teléfono", Channel.WHATSAPP: "WhatsApp",
    Channel.SMS: "SMS", Channel.MAIL: "correo postal", Channel.IN_PERSON: "en persona",
}  # fmt: skip
INCOME_RANGES: tuple[tuple[str, float], ...] = (
    (IncomeRange.UNDER_15K, 12), (IncomeRange.FROM_15K, 26), (IncomeRange.FROM_25K, 28),
    (IncomeRange.FROM_40K, 18), (IncomeRange.FROM_60K, 11), (IncomeRange.OVER_100K, 5),
)  # fmt: skip
# Acquisition source weights for suspects, prospects and buyers.
SOURCES: dict[str, tuple[tuple[str, float], ...]] = {
    Stage.SUSPECT: (
        (Source.PURCHASED_LIST, 45), (Source.EVENT, 20), (Source.IMPORT, 15), (Source.SOCIAL, 10), (Source.OTHER, 10),
    ),
    Stage.PROSPECT: (
        (Source.WEB, 35), (Source.SOCIAL, 20), (Source.REFERRAL, 15), (Source.TELEMARKETING, 15),
        (Source.EVENT, 10), (Source.OTHER, 5),
    ),
    Stage.CUSTOMER: (
        (Source.WEB, 35), (Source.SOCIAL, 15), (Source.REFERRAL, 15), (Source.IMPORT, 10),
        (Source.TELEMARKETING, 8), (Source.EVENT, 7), (Source.PURCHASED_LIST, 5), (Source.OTHER, 5),
    ),
}  # fmt: skip
EMAIL_DOMAINS = (("example.com", 45), ("example.net", 30), ("example.org", 25))
CUSTOMER_NOTES = (
    "Prefiere que le llamen por la tarde.",
    "No enviar publicidad en papel.",
    "Pide siempre factura con sus datos fiscales completos.",
    "Cliente desde la apertura de la tienda.",
    "Habla también inglés y francés.",
    "Recomendado por otro cliente.",
    "Avisar antes de pasar a entregar: trabaja por las mañanas.",
)
STORES = (
    "Madrid - Serrano",
    "Barcelona - Diagonal",
    "Valencia - Colón",
    "Sevilla - Nervión",
    "Tienda online",
)
TAGS = ("VIP", "Newsletter", "Feria Hogar 2025", "Black Friday", "Reclamación abierta", "Cuenta clave")


class Template(NamedTuple):
    kind: str
    direction: str
    subject: str
    body: str
    outcome: str


_T = Template
_C, _E, _M, _V, _CH, _S, _N = (
    InteractionKind.CALL, InteractionKind.EMAIL, InteractionKind.MEETING, InteractionKind.VISIT,
    InteractionKind.CHAT, InteractionKind.SOCIAL, InteractionKind.NOTE,
)  # fmt: skip
_OUT, _IN, _INT = Direction.OUTBOUND, Direction.INBOUND, Direction.INTERNAL
# Interactions by moment: before the first purchase, while buying, and once a customer has lapsed.
# Placeholders: {nombre}, {categoria}, {ciudad}, {canal}.
TEMPLATES: dict[str, tuple[Template, ...]] = {
    "pre": (
        _T(_C, _OUT, "Primer contacto telefónico",
           "Llamada de presentación a {nombre}. Le explico el catálogo y las condiciones para nuevos clientes.",
           Outcome.POSITIVE),
        _T(_C, _OUT, "Llamada sin respuesta", "No contesta. Volver a intentarlo la semana que viene.",
           Outcome.NO_ANSWER),
        _T(_E, _OUT, "Envío de catálogo y tarifa",
           "Envío a {nombre} el catálogo de {categoria} y la tarifa de precios vigente.", Outcome.NEUTRAL),
        _T(_E, _IN, "Solicitud de información",
           "{nombre} pide información sobre {categoria} desde el formulario de la web.", Outcome.FOLLOW_UP),
        _T(_M, _OUT, "Reunión de presentación",
           "Reunión con {nombre} para conocer sus necesidades. Le interesa sobre todo {categoria}.",
           Outcome.POSITIVE),
        _T(_S, _IN, "Mensaje por redes sociales",
           "Pregunta por Instagram si tenemos {categoria} disponible para recoger en {ciudad}.", Outcome.FOLLOW_UP),
        _T(_CH, _IN, "Consulta en el chat de la web",
           "Consulta sobre los plazos de entrega a {ciudad} y los gastos de envío.", Outcome.NEUTRAL),
        _T(_C, _OUT, "Presupuesto pendiente",
           "Llamo a {nombre} para saber si ha revisado el presupuesto. Lo está comparando con otra tienda.",
           Outcome.FOLLOW_UP),
        _T(_N, _INT, "Datos de contacto revisados",
           "Revisados teléfono y correo. Prefiere que le contactemos por {canal}.", ""),
    ),
    "buying": (
        _T(_C, _IN, "Consulta sobre un pedido",
           "{nombre} llama para saber cuándo llegará su último pedido. Le doy el número de seguimiento.",
           Outcome.POSITIVE),
        _T(_C, _IN, "Incidencia con la entrega",
           "El pedido llegó con la caja dañada. Abrimos incidencia con el transportista y le enviamos otro.",
           Outcome.NEGATIVE),
        _T(_C, _OUT, "Llamada de seguimiento",
           "Llamo para saber si está satisfecho con su compra de {categoria}. Todo correcto.", Outcome.POSITIVE),
        _T(_E, _OUT, "Oferta personalizada",
           "Envío a {nombre} un descuento del 10 % en {categoria} por ser cliente.", Outcome.NEUTRAL),
        _T(_E, _IN, "Solicitud de factura",
           "Pide una copia de la factura de su última compra. Enviada por {canal}.", Outcome.POSITIVE),
        _T(_V, _IN, "Visita a la tienda",
           "{nombre} pasa por la tienda para ver las novedades de {categoria}.", Outcome.POSITIVE),
        _T(_M, _OUT, "Reunión de seguimiento de cuenta",
           "Revisamos con {nombre} los pedidos del último trimestre y la previsión de compras.", Outcome.POSITIVE),
        _T(_CH, _IN, "Consulta sobre la garantía",
           "Pregunta cómo tramitar la garantía de un producto de {categoria}.", Outcome.FOLLOW_UP),
        _T(_N, _INT, "Cliente satisfecho", "Comenta que recomendará la tienda a sus conocidos de {ciudad}.", ""),
        _T(_S, _IN, "Reseña en redes sociales", "Publica una reseña positiva de su última compra.",
           Outcome.POSITIVE),
        _T(_C, _IN, "Devolución de un producto",
           "Quiere devolver un artículo de {categoria}: no era lo que esperaba. Le explico el procedimiento.",
           Outcome.NEUTRAL),
    ),
    "lapsed": (
        _T(_C, _OUT, "Llamada de recuperación",
           "Hace meses que {nombre} no compra. Le ofrezco un descuento de bienvenida para volver.",
           Outcome.NEUTRAL),
        _T(_C, _OUT, "Llamada de recuperación",
           "No contesta. Le dejo un mensaje con la promoción de {categoria}.", Outcome.NO_ANSWER),
        _T(_E, _OUT, "Encuesta de satisfacción",
           "Enviamos la encuesta de satisfacción para saber por qué ha dejado de comprar.", Outcome.NEUTRAL),
        _T(_N, _INT, "Motivo de baja", "Se ha mudado fuera de nuestra zona de reparto.", ""),
        _T(_N, _INT, "Motivo de baja", "Ha encontrado mejores precios en otra tienda de {ciudad}.", ""),
        _T(_C, _OUT, "Llamada de recuperación",
           "Le interesa la nueva gama de {categoria}; quedamos en enviarle una oferta.", Outcome.POSITIVE),
    ),
}  # fmt: skip
TASK_TITLES = (
    "Llamar a {nombre} para confirmar el pedido",
    "Enviar presupuesto a {nombre}",
    "Preparar oferta de renovación para {nombre}",
    "Revisar la incidencia de {nombre}",
    "Recordar a {nombre} la promoción de temporada",
    "Enviar catálogo a {nombre}",
    "Actualizar los datos de contacto de {nombre}",
    "Llamar a {nombre}: lleva meses sin comprar",
    "Visitar a {nombre}",
)
TEAM_TASK_TITLES = (
    "Preparar el informe mensual de ventas",
    "Revisar los clientes inactivos de la cartera",
    "Reunión del equipo comercial",
    "Actualizar la tarifa de precios",
)


# --- small helpers --------------------------------------------------------------------------------


def _weights(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    result: np.ndarray = array / array.sum()
    return result


def _values(options: Sequence[tuple[Any, ...]]) -> np.ndarray:
    """The first item of each option (a choice), as plain strings in an object array."""
    return _objects([str(o[0]) for o in options])


def _objects(values: Sequence[Any]) -> np.ndarray:
    """A numpy object array (numpy would turn a list of strings into a fixed-width unicode array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _cif(letter: str, digits: str) -> str:
    """A Spanish CIF with a correct control character (digit or letter, as the entity type says)."""
    odd = sum(sum(divmod(int(d) * 2, 10)) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    control = (10 - (odd + even) % 10) % 10
    if letter in "PQRSNW":
        return f"{letter}{digits}{'JABCDEFGHI'[control]}"
    return f"{letter}{digits}{control}"


def _slug(text: str, limit: int = 40) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in fold(text)).split()
    return "-".join(words)[:limit].strip("-")


def _alnum(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


class _Clock:
    """Turns local days and seconds into the text the database stores for dates and timestamps.

    Day 0 is the first day of the three-year window. Timestamps are business hours in the site's
    time zone, stored in UTC like Django does (naive UTC text on SQLite, ``+00`` on PostgreSQL).
    """

    def __init__(self, start: dt.date, days: int, zone: ZoneInfo, vendor: str) -> None:
        self.start = start
        dates = [start + dt.timedelta(days=d) for d in range(days)]
        self.date_text = _objects([d.isoformat() for d in dates])
        # Offsets at noon hold for the whole business day: DST changes happen at night.
        self.offset = np.array(
            [int(dt.datetime.combine(d, dt.time(12), zone).utcoffset().total_seconds()) for d in dates],  # type: ignore[union-attr]
            dtype=np.int64,
        )
        suffix = "+00" if vendor == "postgresql" else ""
        self.time_text = _objects(
            [f" {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}{suffix}" for s in range(86400)]
        )
        self.zone = zone

    def dates(self, day: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.date_text[day]
        return result

    def stamps(self, day: np.ndarray, local_second: np.ndarray) -> np.ndarray:
        """Local (day, second) pairs as stored UTC timestamps; seconds must be within 03:00-22:00."""
        utc_second = local_second - self.offset[day]
        result: np.ndarray = self.date_text[day] + self.time_text[utc_second]
        return result

    def aware(self, day: int, local_second: int) -> dt.datetime:
        moment = dt.datetime.combine(self.start + dt.timedelta(days=int(day)), dt.time(), self.zone)
        return moment + dt.timedelta(seconds=int(local_second))


class _Pending:
    """Rows built for one table, to be written later (by the thread that owns the connection)."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[Any, ...]]] = []

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        self.batches.append(rows)


class _Writer:
    """Appends rows to one table through the driver's fastest path.

    Values must already be in a form the database parses: ints, floats, bools, ``None`` and strings
    (dates and timestamps as text from :class:`_Clock`, JSON as text).
    """

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        opts = model._meta
        qn = connection.ops.quote_name
        columns = ", ".join(
            qn(str(cast("models.Field[Any, Any]", opts.get_field(name)).column)) for name in fields
        )
        self.vendor = connection.vendor
        table = qn(opts.db_table)
        if self.vendor == "postgresql":
            self.sql = f"COPY {table} ({columns}) FROM STDIN"
        else:
            marker = "?" if self.vendor == "sqlite" else "%s"
            self.sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join([marker] * len(fields))})"  # noqa: S608 - names come from the models
        self.rows = 0

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.vendor == "postgresql":
            with connection.cursor() as cursor, cursor.cursor.copy(self.sql) as copy:
                for row in rows:
                    copy.write_row(row)
        elif self.vendor == "sqlite":
            connection.ensure_connection()
            connection.connection.executemany(self.sql, rows)
        else:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, rows)
        self.rows += len(rows)


# --- bulk-load mode -------------------------------------------------------------------------------


def _secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, DDL) of the indexes of ``table`` that no primary key or constraint depends on."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                [table],
            )
        elif connection.vendor == "postgresql":
            cursor.execute(
                """
                SELECT i.relname, pg_get_indexdef(x.indexrelid)
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """,
                [connection.ops.quote_name(table)],
            )
        else:
            return []
        return [(name, sql) for name, sql in cursor.fetchall()]


def _foreign_keys(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the foreign keys of ``table`` (PostgreSQL; SQLite turns them off)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [connection.ops.quote_name(table)],
        )
        return [(name, sql) for name, sql in cursor.fetchall()]


@contextmanager
def _without_indexes(tables: Sequence[str], progress: Progress) -> Iterator[None]:
    """Drop secondary indexes (and PostgreSQL foreign keys) of empty tables; rebuild them after.

    Runs inside the load's transaction: if the load fails, the rollback brings the indexes back.
    """
    qn = connection.ops.quote_name
    indexes = [ddl for table in tables for ddl in _secondary_indexes(table)]
    fks = [(table, name, sql) for table in tables for name, sql in _foreign_keys(table)]
    with connection.cursor() as cursor:
        for table, name, _sql in fks:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
    yield
    total = len(indexes) + len(fks)
    progress("Indexes", 0, total)
    with connection.cursor() as cursor:
        for done, (_name, sql) in enumerate(indexes, start=1):
            cursor.execute(sql)
            progress("Indexes", done, total)
        for done, (table, name, sql) in enumerate(fks, start=len(indexes) + 1):
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {sql}")
            progress("Indexes", done, total)


@contextmanager
def _fast_session(enabled: bool) -> Iterator[None]:
    """Connection settings for a one-off bulk load, put back afterwards.

    SQLite: a rollback journal instead of WAL (a WAL file would grow to the size of the database and
    be copied back at the end), no fsync, a large page cache, no per-row foreign key checks (the
    generator writes consistent ids). PostgreSQL: asynchronous commit and memory for index builds.
    Only outside a transaction, as SQLite requires for these pragmas; inside one (a caller's
    ``atomic`` block, a test) the load runs with the connection as it is.
    """
    if not enabled or connection.in_atomic_block:
        yield
        return
    vendor = connection.vendor
    if vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA journal_mode=TRUNCATE")  # refused (kept as is) if others are connected
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1048576")
            cursor.execute("PRAGMA threads=2")
        enabled_fk = not connection.disable_constraint_checking()
        try:
            yield
        finally:
            if not enabled_fk:
                connection.enable_constraint_checking()
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA journal_mode={journal}")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA cache_size=-65536")
    elif vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '1GB'")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
                cursor.execute("RESET maintenance_work_mem")
    else:
        yield


# --- the repeat-buying process --------------------------------------------------------------------


class _Buyers(NamedTuple):
    """Per-buyer parameters of the purchase process (rates per day)."""

    rate: np.ndarray  # gamma-distributed purchase rate
    dropout: np.ndarray  # beta-distributed probability of leaving after each repeat purchase
    slipping: np.ndarray  # bool: rate decays instead of stopping
    tau: np.ndarray  # decay time (days) for the slipping group


RATE_SHAPE = 0.75  # gamma shape r: strong heterogeneity, many slow buyers, a few very frequent ones
DROPOUT_A, DROPOUT_B = 1.0, 9.0  # beta(a, b): on average one buyer in ten leaves after a purchase
SLIPPING_SHARE = 0.12
NEVER_BOUGHT_SHARE = 0.15
B2B_SHARE = 0.10


def _draw_buyers(rng: np.random.Generator, n: int, scale: float, days: int) -> _Buyers:
    rate = rng.gamma(RATE_SHAPE, scale, n)
    dropout = rng.beta(DROPOUT_A, DROPOUT_B, n)
    slipping = rng.random(n) < SLIPPING_SHARE
    tau = rng.uniform(120.0, 540.0, n)
    # A slipping buyer starts keen and fades; they never leave at once.
    rate = np.where(slipping, rate * 1.8, rate)
    dropout = np.where(slipping, 0.0, dropout)
    rate = np.minimum(rate, max(0.25, 4 * scale))  # nobody buys more than every few days
    return _Buyers(rate, dropout, slipping, tau)


def _simulate(
    rng: np.random.Generator, first_day: np.ndarray, buyers: _Buyers, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Purchase days of each buyer from their first purchase until ``days``.

    Returns (buyer index, day) sorted by buyer then day. Inter-purchase times are exponential
    (Poisson purchasing while active); after each repeat purchase the buyer leaves with probability
    ``dropout`` (BG/NBD). For the slipping group the rate is ``rate * exp(-(t - t0) / tau)``, and the
    next purchase comes from inverting the integrated rate; when the remaining rate cannot produce
    another purchase, there is none.
    """
    n = first_day.size
    start = first_day.astype(float) + rng.random(n)
    t = start.copy()
    idx_parts = [np.arange(n)]
    day_parts = [first_day.astype(np.int64)]
    active = np.arange(n)
    repeat = False
    while active.size:
        if repeat:
            active = active[rng.random(active.size) >= buyers.dropout[active]]
        repeat = True
        e = rng.standard_exponential(active.size)
        rate = buyers.rate[active]
        now = t[active]
        nxt = now + e / rate
        slip = buyers.slipping[active]
        if slip.any():
            tau = buyers.tau[active][slip]
            t0 = start[active][slip]
            left = np.exp(-(now[slip] - t0) / tau) - e[slip] / (rate[slip] * tau)
            with np.errstate(divide="ignore", invalid="ignore"):
                nxt[slip] = np.where(left > 0, t0 - tau * np.log(np.maximum(left, 1e-300)), np.inf)
        keep = nxt < days
        active = active[keep]
        t[active] = nxt[keep]
        idx_parts.append(active.copy())
        day_parts.append(np.floor(nxt[keep]).astype(np.int64))
    idx = np.concatenate(idx_parts)
    day = np.concatenate(day_parts)
    order = np.lexsort((day, idx))
    return idx[order], day[order]


def _first_days(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Acquisition days of buyers: the business grows, so later days are a little more frequent."""
    return np.minimum(np.floor(days * rng.random(n) ** 0.8).astype(np.int64), days - 1)


@functools.lru_cache(maxsize=16)
def _calibrate(orders_per_buyer: float, days: int) -> float:
    """The gamma scale that gives ``orders_per_buyer`` on average, found on a fixed pilot sample.

    The mean number of orders grows smoothly with the scale, almost linearly on log-log axes, so a
    few secant steps on a 10,000-buyer pilot (the same random numbers at every step) are enough.
    """
    target = np.log(orders_per_buyer)

    def gap(log_scale: float) -> float:
        rng = np.random.default_rng(7)
        first = _first_days(rng, 10_000, days)
        buyers = _draw_buyers(rng, first.size, float(np.exp(log_scale)), days)
        idx, _day = _simulate(rng, first, buyers, days)
        return float(np.log(idx.size / first.size) - target)

    x0, x1 = np.log(0.01), np.log(0.1)
    g0, g1 = gap(x0), gap(x1)
    for _ in range(12):
        if abs(g1) < 0.02 or g1 == g0:  # the pilot itself is only this precise
            break
        x0, x1, g0 = x1, float(np.clip(x1 - g1 * (x1 - x0) / (g1 - g0), np.log(1e-5), np.log(20.0))), g1
        g1 = gap(x1)
    return float(np.exp(x1))


# --- the generator --------------------------------------------------------------------------------


class _Pools:
    """Names, streets and the other lists the customers are drawn from (Faker es_ES + INE tables)."""

    def __init__(self, seed: int) -> None:
        fake = Faker("es_ES")
        fake.seed_instance(seed)
        person = next(p for p in fake.providers if hasattr(p, "first_names_female"))
        # Names Faker lists for both sexes ("José", "María", "Cruz") would break titles and genders.
        both = set(person.first_names_female) & set(person.first_names_male)
        female_names = [x for x in person.first_names_female if x not in both and x not in TOP_MALE]
        male_names = [x for x in person.first_names_male if x not in both and x not in TOP_FEMALE]
        female = dict.fromkeys(female_names, OTHER_NAME_WEIGHT) | TOP_FEMALE
        male = dict.fromkeys(male_names, OTHER_NAME_WEIGHT) | TOP_MALE
        surnames = dict.fromkeys(person.last_names, OTHER_SURNAME_WEIGHT) | TOP_SURNAMES
        self.female = _objects(list(female))
        self.female_w = _weights(list(female.values()))
        self.male = _objects(list(male))
        self.male_w = _weights(list(male.values()))
        self.surnames = _objects(list(surnames))
        self.surnames_w = _weights(list(surnames.values()))
        self.female_key = _objects([fold(x) for x in self.female])
        self.male_key = _objects([fold(x) for x in self.male])
        self.surname_key = _objects([fold(x) for x in self.surnames])
        self.female_mail = _objects([_alnum(x) for x in self.female])
        self.male_mail = _objects([_alnum(x) for x in self.male])
        self.surname_mail = _objects([_alnum(x) for x in self.surnames])
        # Streets: a fixed list of common names plus people's names, in Faker's es_ES style.
        types = [t for t, _w in STREET_TYPES]
        type_w = _weights([w for _t, w in STREET_TYPES])
        names = list(STREET_NAMES) + [f"de {fake.first_name()} {fake.last_name()}" for _ in range(400)]
        rng = np.random.default_rng([seed, 3])
        kinds = rng.choice(len(types), 3000, p=type_w)
        picks = rng.integers(0, len(names), 3000)
        self.streets = _objects([f"{types[k]} {names[p]}" for k, p in zip(kinds, picks, strict=True)])
        # Towns: capital or another town of the province, each with its postal code.
        self.province_w = _weights([p.population for p in PROVINCES])
        self.towns: list[tuple[str, ...]] = [p.towns for p in PROVINCES]
        self.town_codes: list[list[str]] = []
        for province in PROVINCES:
            codes = [f"{province.code}0"]  # the capital: its own district codes follow
            for town in province.towns[1:]:
                codes.append(f"{province.code}{100 + zlib.crc32(town.encode()) % 900:03d}")
            self.town_codes.append(codes)


def _choice(
    rng: np.random.Generator, options: Sequence[tuple[Any, ...]], size: int, column: int = 1
) -> np.ndarray:
    """Indices into ``options`` drawn with the weights in ``column``."""
    return rng.choice(len(options), size, p=_weights([o[column] for o in options]))


def generate_demo(
    *,
    customers: int = 2000,
    seed: int = 2026,
    today: dt.date | None = None,
    progress: Progress | None = None,
    orders_per_customer: float = DEFAULT_ORDERS_PER_CUSTOMER,
    interactions_per_customer: float = 1.5,
) -> DemoStats:
    """Fill an empty customer file with a demo portfolio and create the demo users if missing.

    ``customers`` people (about 10% contacts of companies, 15% who never bought), about
    ``orders_per_customer`` orders each on average over the three years before ``today`` (default:
    the local date), interactions and tasks. Deterministic for a given ``seed`` and ``today``.

    Raises :class:`DemoError` when customers already exist: the demo never mixes with real data.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    started = time.perf_counter()
    report: Progress = progress or (lambda step, done, total: None)
    today = today or timezone.localdate()
    stats = DemoStats()
    if Customer.objects.exists():
        raise DemoError("The customer file is not empty; the demo portfolio only goes into an empty one.")

    users = _ensure_users(stats)
    bulk = customers >= BULK_LOAD_THRESHOLD
    with _fast_session(bulk), transaction.atomic():
        generator = _Generator(
            customers=customers,
            seed=seed,
            today=today,
            users=users,
            orders_per_customer=orders_per_customer,
            interactions_per_customer=interactions_per_customer,
            report=report,
            stats=stats,
        )
        tables = [m._meta.db_table for m in (Customer, Customer.tags.through, Order, Interaction)]
        if bulk:
            with _without_indexes(tables, report):
                generator.run()
        else:
            generator.run()
        _reset_sequences()
    if bulk:
        # After the commit: PostgreSQL's VACUUM cannot run inside a transaction.
        update_planner_statistics(tables + [Company._meta.db_table])
    stats.seconds = time.perf_counter() - started
    return stats


def _ensure_users(stats: DemoStats) -> dict[str, User]:
    users: dict[str, User] = {}
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = user_create(
                username=spec.username,
                password=DEMO_PASSWORD,
                role=spec.role,
                email=f"{spec.username}@example.com",
                first_name=spec.first_name,
                last_name=spec.last_name,
            )
            stats.users_created.append(spec.username)
        users[spec.username] = user
    return users


def _reset_sequences() -> None:
    """Rows were written with explicit ids: move the id sequences past them (PostgreSQL)."""
    sql = connection.ops.sequence_reset_sql(
        no_style(), [Company, Customer, Order, Interaction, Task, Customer.tags.through]
    )
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


def _next_id(model: type[models.Model]) -> int:
    top: int | None = model._default_manager.aggregate(top=models.Max("pk"))["top"]
    return (top or 0) + 1


class _Generator:
    """One run of :func:`generate_demo`; state shared by its steps."""

    def __init__(
        self,
        *,
        customers: int,
        seed: int,
        today: dt.date,
        users: dict[str, User],
        orders_per_customer: float,
        interactions_per_customer: float,
        report: Progress,
        stats: DemoStats,
    ) -> None:
        self.n = customers
        self.seed = seed
        self.today = today
        self.start = _years_before(today, 3)
        self.days = (today - self.start).days  # orders on days [0, days): up to yesterday
        self.users = users
        self.reps = [users["ana"].pk, users["luis"].pk]
        self.authors = np.array([users["ana"].pk, users["luis"].pk, users["manager"].pk])
        self.report = report
        self.stats = stats
        self.interactions_per_customer = interactions_per_customer
        self.orders_per_customer = orders_per_customer
        self.rng = np.random.default_rng([seed, 1])
        zone = ZoneInfo(settings.TIME_ZONE)
        self.clock = _Clock(self.start, self.days + 120, zone, connection.vendor)
        self.pools = _Pools(seed)
        self.scale = _calibrate(orders_per_customer / (1 - NEVER_BOUGHT_SHARE), self.days)
        self.emails: dict[str, int] = {}
        self.phones: set[int] = set()
        self.order_seq = 0
        self.interaction_id = _next_id(Interaction)
        self.order_id = _next_id(Order)
        self.link_id = _next_id(Customer.tags.through)
        self.customer_base = _next_id(Customer)
        # position -> (id, first name, owner, 0 suspect / 1 prospect / 2 customer / 3 former, day created)
        self.task_picks: dict[int, tuple[int, str, int | None, int, int]] = {}
        self.timings: dict[str, float] = {}

    # -- steps -------------------------------------------------------------------------------------

    def run(self) -> None:
        self._timed("companies", self._companies)
        self._timed("population", self._population)
        self._timed("companies", self._write_companies)
        self._setup_extras()
        writers = {
            "customers": _Writer(Customer, CUSTOMER_FIELDS),
            "orders": _Writer(Order, ORDER_FIELDS),
            "interactions": _Writer(Interaction, INTERACTION_FIELDS),
            "tags": _Writer(Customer.tags.through, ("id", "customer", "tag")),
        }
        expected_orders = int(self.n * self.orders_per_customer)
        self.report("Customers", 0, self.n)
        self.report("Orders", 0, expected_orders)
        chunks = [(no, lo, min(lo + CHUNK, self.n)) for no, lo in enumerate(range(0, self.n, CHUNK))]
        # One thread builds the next chunk while this one writes the current one: SQLite and the
        # PostgreSQL driver release the GIL while they work, so the two overlap on two cores.
        # Chunks are still built one after the other, in order, so the data does not change.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-build") as builder:
            future = builder.submit(self._chunk, *chunks[0])
            for index, (_no, _lo, hi) in enumerate(chunks):
                built = future.result()
                if index + 1 < len(chunks):
                    future = builder.submit(self._chunk, *chunks[index + 1])
                began = time.perf_counter()
                for key, pending in built.items():
                    for rows in pending.batches:
                        writers[key].write(rows)
                self.timings["write"] = self.timings.get("write", 0.0) + time.perf_counter() - began
                self.report("Customers", hi, self.n)
                self.report("Orders", writers["orders"].rows, max(expected_orders, writers["orders"].rows))
        self.report("Orders", writers["orders"].rows, writers["orders"].rows)
        self._timed("tasks", self._tasks)
        self.stats.customers = writers["customers"].rows
        self.stats.orders = writers["orders"].rows
        self.stats.interactions = writers["interactions"].rows
        self.stats.tag_links = writers["tags"].rows
        self.stats.timings = self.timings

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        began = time.perf_counter()
        step()
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - began

    def _companies(self) -> None:
        """About one customer in ten works for a company; companies have one to a dozen contacts."""
        rng = np.random.default_rng([self.seed, 2])
        b2b_people = int(round(self.n * B2B_SHARE))
        count = max(1, int(round(b2b_people / 2.4))) if b2b_people else 0
        self.company_count = count
        if not count:
            self.company_sector = self.company_province = self.company_owner = np.zeros(0, dtype=np.int64)
            self.company_domain = _objects([])
            self.company_weight = np.zeros(0)
            self.company_large = np.zeros(0, dtype=bool)
            return
        pools = self.pools
        sectors = [s for s in SECTORS if s[2] > 0]
        sector = _choice(rng, sectors, count, column=2)
        size = _choice(rng, COMPANY_SIZES, count)
        form = _choice(rng, COMPANY_FORMS, count)
        province = rng.choice(len(PROVINCES), count, p=pools.province_w)
        surname_a = rng.choice(len(pools.surnames), count, p=pools.surnames_w)
        surname_b = rng.choice(len(pools.surnames), count, p=pools.surnames_w)
        pattern = rng.choice(5, count, p=[0.4, 0.15, 0.2, 0.1, 0.15])
        stem_pick = rng.integers(0, 4, count)
        used_ids: set[str] = set()
        base = _next_id(Company)
        rows: list[tuple[Any, ...]] = []
        domains: list[str] = []
        slugs: set[str] = set()
        owner = np.where(rng.random(count) < 0.5, self.reps[0], self.reps[1])
        large = np.array([COMPANY_SIZES[s][0] == CompanySize.LARGE for s in size])
        owner = np.where(large & (rng.random(count) < 0.5), self.users["manager"].pk, owner)
        for i in range(count):
            sector_name = sectors[sector[i]][0]
            stems = COMPANY_STEMS[sector_name]
            stem = stems[stem_pick[i] % len(stems)]
            s1, s2 = pools.surnames[surname_a[i]], pools.surnames[surname_b[i]]
            town = PROVINCES[province[i]].towns[0]
            core = (
                f"{stem} {s1}",
                f"{stem} {s1} y {s2}",
                f"{stem} {town}",
                f"Hermanos {s1}",
                f"Grupo {s1}",
            )[pattern[i]]
            suffix, _w, letter = COMPANY_FORMS[form[i]]
            name = f"{core} {suffix}"
            while True:
                digits = PROVINCES[province[i]].code + f"{int(rng.integers(0, 100_000)):05d}"
                tax_id = _cif(letter, digits)
                if tax_id not in used_ids:
                    used_ids.add(tax_id)
                    break
            slug = _slug(core) or "empresa"
            domain = f"{slug}-{i + 1}.example" if slug in slugs else f"{slug}.example"
            slugs.add(slug)
            domains.append(domain)
            rows.append(
                (
                    base + i,
                    name,
                    fold(name)[:200],
                    tax_id,
                    sector_name,
                    str(COMPANY_SIZES[size[i]][0]),
                    PROVINCES[province[i]].community,
                    f"https://www.{domain}",
                )
            )
        self.company_rows = rows
        self.company_ids = np.arange(base, base + count)
        self.company_sector = np.array([SECTORS.index(sectors[s]) for s in sector])
        self.company_province = province
        self.company_owner = owner
        self.company_domain = _objects(domains)
        self.company_weight = np.array([COMPANY_SIZES[s][2] for s in size], dtype=float)
        self.company_large = large

    def _population(self) -> None:
        """Who buys, who works for which company, and when each person entered the file.

        People are numbered in the order they entered the file, so ids grow with ``created_at``
        (the "newest" sort is the order of arrival) and the database appends rather than inserts.
        """
        rng = self.rng
        n, days = self.n, self.days
        buyer = rng.random(n) >= NEVER_BOUGHT_SHARE
        company = np.full(n, -1, dtype=np.int64)
        if self.company_count:
            b2b = np.flatnonzero(rng.random(n) < B2B_SHARE)
            b2b = rng.permutation(b2b)
            first = b2b[: self.company_count]  # every company gets at least one contact
            company[first] = np.arange(first.size)
            rest = b2b[self.company_count :]
            company[rest] = rng.choice(self.company_count, rest.size, p=_weights(self.company_weight))
        first_day = _first_days(rng, n, days)
        # Some buyers were prospects for a while before buying.
        lead = np.where(rng.random(n) < 0.45, np.floor(rng.exponential(45.0, n)).astype(np.int64), 0)
        prospect_day = np.minimum(np.floor(days * rng.random(n) ** 0.6).astype(np.int64), days - 1)
        created_day = np.where(buyer, np.maximum(first_day - lead, 0), prospect_day)
        order = np.argsort(created_day, kind="stable")
        self.buyer = buyer[order]
        self.company = company[order]
        self.first_day = first_day[order]
        self.created_day = created_day[order]
        self.created_second = rng.integers(8 * 3600, 20 * 3600, n)
        # The first purchase comes after the person is in the file.
        same_day = self.buyer & (self.first_day == self.created_day)
        self.first_second = np.where(same_day, self.created_second + rng.integers(300, 3600, n), 0)
        picks = rng.choice(n, min(n, max(40, n // 15), 4000), replace=False)
        self.task_positions = set(picks.tolist())

    def _write_companies(self) -> None:
        """A company enters the file shortly before its first contact does."""
        count = self.company_count
        if not count:
            return
        rng = np.random.default_rng([self.seed, 4])
        first_seen = np.full(count, self.days - 1, dtype=np.int64)
        contacts = self.company >= 0
        np.minimum.at(first_seen, self.company[contacts], self.created_day[contacts])
        day = np.maximum(first_seen - rng.integers(0, 60, count), 0)
        stamps = self.clock.stamps(day, rng.integers(9 * 3600, 18 * 3600, count)).tolist()
        _Writer(Company, COMPANY_FIELDS).write(
            [(row[0], stamp, stamp, *row[1:]) for row, stamp in zip(self.company_rows, stamps, strict=True)]
        )
        self.stats.companies = count
        self.report("Companies", count, count)

    def _setup_extras(self) -> None:
        self.tags = {name: Tag.objects.get_or_create(name=name)[0].pk for name in TAGS}
        for position, (key, label, kind, choices) in enumerate(
            (
                ("tarjeta_club", "Tarjeta Club", CustomFieldType.BOOLEAN, ""),
                ("tienda_habitual", "Tienda habitual", CustomFieldType.CHOICE, "\n".join(STORES)),
            )
        ):
            CustomField.objects.get_or_create(
                key=key,
                defaults={"label": label, "field_type": kind, "choices": choices, "position": position},
            )

    # -- one chunk of customers --------------------------------------------------------------------

    def _chunk(self, chunk_no: int, lo: int, hi: int) -> dict[str, _Pending]:
        """Build (not write) the rows of customers ``lo`` to ``hi`` and of their orders, interactions, tags."""
        writers = {key: _Pending() for key in ("customers", "orders", "interactions", "tags")}
        rng = np.random.default_rng([self.seed, 10, chunk_no])
        began = time.perf_counter()
        m = hi - lo
        buyer = self.buyer[lo:hi]
        buyer_pos = np.flatnonzero(buyer)
        params = _draw_buyers(rng, buyer_pos.size, self.scale, self.days)
        b_idx, o_day = _simulate(rng, self.first_day[lo:hi][buyer_pos], params, self.days)
        o_cust = buyer_pos[b_idx]  # position within the chunk
        count = np.bincount(o_cust, minlength=m)
        last_day = np.full(m, -1, dtype=np.int64)
        np.maximum.at(last_day, o_cust, o_day)
        self.timings["simulate"] = self.timings.get("simulate", 0.0) + time.perf_counter() - began

        began = time.perf_counter()
        people = self._people(rng, lo, hi, count, last_day)
        writers["customers"].write(people["rows"])
        self.timings["customers"] = self.timings.get("customers", 0.0) + time.perf_counter() - began

        began = time.perf_counter()
        spend = self._orders(rng, lo, hi, o_cust, o_day, people, writers["orders"])
        self.timings["orders"] = self.timings.get("orders", 0.0) + time.perf_counter() - began

        began = time.perf_counter()
        self._interactions(rng, lo, hi, count, last_day, people, writers["interactions"])
        self._tag_links(rng, lo, hi, spend, o_cust, o_day, people, writers["tags"])
        self.timings["interactions"] = self.timings.get("interactions", 0.0) + time.perf_counter() - began
        return writers

    def _people(
        self, rng: np.random.Generator, lo: int, hi: int, count: np.ndarray, last_day: np.ndarray
    ) -> dict[str, Any]:
        pools, clock, m = self.pools, self.clock, hi - lo
        ids = np.arange(self.customer_base + lo, self.customer_base + hi)
        company = self.company[lo:hi]
        b2b = company >= 0
        female = rng.random(m) < 0.51
        first_f = rng.choice(len(pools.female), m, p=pools.female_w)
        first_m = rng.choice(len(pools.male), m, p=pools.male_w)
        s1 = rng.choice(len(pools.surnames), m, p=pools.surnames_w)
        s2 = rng.choice(len(pools.surnames), m, p=pools.surnames_w)
        first_name = np.where(female, pools.female[first_f], pools.male[first_m])
        first_key = np.where(female, pools.female_key[first_f], pools.male_key[first_m])
        first_mail = np.where(female, pools.female_mail[first_f], pools.male_mail[first_m])
        last_name = pools.surnames[s1] + " " + pools.surnames[s2]
        last_key = pools.surname_key[s1] + " " + pools.surname_key[s2]

        u = rng.random(m)
        title = np.where(
            female,
            np.where(u < 0.55, Title.MRS, np.where(u < 0.85, Title.MS, np.where(u < 0.9, Title.DR, ""))),
            np.where(u < 0.85, Title.MR, np.where(u < 0.9, Title.DR, "")),
        ).astype(object)
        title[rng.random(m) < 0.003] = Title.MX.value

        age_days = np.clip(rng.normal(45 * 365.25, 14 * 365.25, m), 18 * 365.25 + 1, 80 * 365.25 - 1).astype(
            np.int64
        )
        has_birth = rng.random(m) < 0.85
        birth = np.datetime64(self.today) - age_days.astype("timedelta64[D]")
        birth_text = np.datetime_as_string(birth, unit="D").astype(object)
        birth_text[~has_birth] = None
        age = age_days / 365.25

        # Stage: never-buyers are suspects or prospects; buyers are customers, some marked former
        # after a long silence.
        since_last = self.days - last_day
        suspect = rng.random(m) < 0.5
        former = (count > 0) & (since_last > 300) & (rng.random(m) < 0.4)
        stage = np.where(
            count == 0,
            np.where(suspect, Stage.SUSPECT, Stage.PROSPECT),
            np.where(former, Stage.FORMER, Stage.CUSTOMER),
        ).astype(object)
        group = np.where(count == 0, np.where(suspect, 0, 1), 2)
        source = np.empty(m, dtype=object)
        for g, key in enumerate((Stage.SUSPECT, Stage.PROSPECT, Stage.CUSTOMER)):
            where = np.flatnonzero(group == g)
            options = SOURCES[key]
            source[where] = _values(options)[_choice(rng, options, where.size)]

        # Where they live: a company contact usually near the company.
        province = rng.choice(len(PROVINCES), m, p=pools.province_w)
        near = b2b & (rng.random(m) < 0.8)
        if near.any():
            province[near] = self.company_province[company[near]]
        town_pick = rng.random(m)
        district = rng.integers(1, 51, m)
        city = np.empty(m, dtype=object)
        postal = np.empty(m, dtype=object)
        region = np.empty(m, dtype=object)
        for p_index in np.unique(province):
            where = np.flatnonzero(province == p_index)
            towns = pools.towns[p_index]
            codes = pools.town_codes[p_index]
            t = np.where(
                town_pick[where] < 0.55,
                0,
                1 + (town_pick[where] * 1000).astype(np.int64) % max(1, len(towns) - 1),
            )
            t = np.minimum(t, len(towns) - 1)
            city[where] = _objects(list(towns))[t]
            region[where] = PROVINCES[p_index].name
            code_base = _objects(codes)[t]
            postal[where] = np.where(
                t == 0,
                code_base + _objects([f"{d:02d}" for d in range(100)])[district[where]],
                code_base,
            )
        number = rng.integers(1, 160, m)
        floor = rng.integers(1, 9, m)
        door = rng.integers(0, 6, m)
        flat = rng.random(m) < 0.6
        street = pools.streets[rng.integers(0, len(pools.streets), m)]
        doors = ("A", "B", "C", "D", "izda.", "dcha.")
        address = [
            f"{s}, {nb}, {fl}º {doors[dr]}" if f else f"{s}, {nb}"
            for s, nb, fl, dr, f in zip(
                street, number.tolist(), floor.tolist(), door.tolist(), flat.tolist(), strict=True
            )
        ]

        # Work: company contacts have a job title and the company's sector.
        sector = np.full(m, "", dtype=object)
        has_sector = rng.random(m) < 0.45
        sector_names = _objects([s[0] for s in SECTORS])
        sector[has_sector] = sector_names[_choice(rng, SECTORS, int(has_sector.sum()))]
        if b2b.any():
            sector[b2b] = sector_names[self.company_sector[company[b2b]]]
        prof = _choice(rng, PROFESSIONS, m, column=2)
        profession = np.where(
            female, _objects([p[1] for p in PROFESSIONS])[prof], _objects([p[0] for p in PROFESSIONS])[prof]
        )
        profession = np.where(rng.random(m) < 0.7, profession, "").astype(object)
        retired = age >= 66
        profession[retired] = np.where(female[retired], "Jubilada", "Jubilado")
        student = (age < 24) & (rng.random(m) < 0.6)
        profession[student] = "Estudiante"
        job = _choice(rng, JOB_TITLES, m, column=2)
        job_title = np.where(
            female, _objects([j[1] for j in JOB_TITLES])[job], _objects([j[0] for j in JOB_TITLES])[job]
        )
        job_title = np.where(b2b, job_title, "").astype(object)

        # Contact details.
        has_email = np.where(group == 0, rng.random(m) < 0.75, rng.random(m) < 0.95)
        has_phone = rng.random(m) < 0.93
        email = self._emails(
            rng, first_mail, pools.surname_mail[s1], pools.surname_mail[s2], age, company, has_email
        )
        phone = self._phones(rng, has_phone)
        channel_names = _values(CONTACT_CHANNELS)
        preferred = channel_names[_choice(rng, CONTACT_CHANNELS, m)]
        preferred = np.where((preferred == Channel.EMAIL) & ~has_email, Channel.PHONE.value, preferred)
        preferred = np.where(
            np.isin(preferred, [Channel.PHONE, Channel.SMS, Channel.WHATSAPP]) & ~has_phone,
            Channel.MAIL.value,
            preferred,
        ).astype(object)
        opt_email = has_email & ((rng.random(m) < 0.68) | (preferred == Channel.EMAIL))
        opt_phone = has_phone & ((rng.random(m) < 0.45) | (preferred == Channel.PHONE))
        opt_sms = has_phone & ((rng.random(m) < 0.35) | (preferred == Channel.SMS))
        opt_mail = (rng.random(m) < 0.2) | (preferred == Channel.MAIL)

        income = np.where(rng.random(m) < 0.55, _values(INCOME_RANGES)[_choice(rng, INCOME_RANGES, m)], "")

        owner = np.where(rng.random(m) < 0.52, self.reps[0], self.reps[1])
        if b2b.any():
            owner[b2b] = self.company_owner[company[b2b]]
        company_id = np.where(b2b, self.company_ids[np.maximum(company, 0)] if self.company_count else 0, 0)

        club = (count > 0) & (rng.random(m) < 0.25)
        store = rng.random(m) < 0.3
        store_pick = rng.integers(0, len(STORES), m)
        # Few distinct values: encode each JSON document once, then pick (a million json.dumps cost seconds).
        documents = _objects(
            [
                json.dumps(
                    ({"tarjeta_club": True} if c else {})
                    | ({"tienda_habitual": STORES[sp - 1]} if sp else {}),
                    ensure_ascii=False,
                )
                for c in (False, True)
                for sp in range(len(STORES) + 1)
            ]
        )
        custom = documents[club * (len(STORES) + 1) + np.where(store, store_pick + 1, 0)].tolist()
        notes = np.where(
            rng.random(m) < 0.04, _objects(list(CUSTOMER_NOTES))[rng.integers(0, len(CUSTOMER_NOTES), m)], ""
        )

        created = clock.stamps(self.created_day[lo:hi], self.created_second[lo:hi])
        rows = list(
            zip(
                ids.tolist(), created.tolist(), created.tolist(), title.tolist(), first_name.tolist(),
                last_name.tolist(), email, phone, stage.tolist(), sector.tolist(),
                [int(c) if b else None for c, b in zip(company_id.tolist(), b2b.tolist(), strict=True)],
                job_title.tolist(), profession.tolist(), birth_text.tolist(), address, city.tolist(),
                region.tolist(), postal.tolist(), ["ES"] * m, preferred.tolist(), opt_email.tolist(),
                opt_phone.tolist(), opt_sms.tolist(), opt_mail.tolist(), source.tolist(), income.tolist(),
                owner.tolist(), custom, notes.tolist(), [k[:100] for k in first_key.tolist()],
                [k[:150] for k in last_key.tolist()],
                strict=True,
            )
        )  # fmt: skip
        for position in range(lo, hi):
            if position in self.task_positions:
                i = position - lo
                self.task_picks[position] = (
                    int(ids[i]),
                    str(first_name[i]),
                    int(owner[i]),
                    int(group[i] if count[i] == 0 else 2 + former[i]),
                    int(self.created_day[position]),
                )
        for name in stage.tolist():
            self.stats.stages[name] = self.stats.stages.get(name, 0) + 1
        return {
            "rows": rows,
            "ids": ids,
            "first_name": first_name,
            "city": city,
            "preferred": preferred,
            "owner": owner,
            "b2b": b2b,
            "source": source,
            "opt_email": opt_email,
            "stage": stage,
        }

    def _emails(
        self,
        rng: np.random.Generator,
        first: np.ndarray,
        s1: np.ndarray,
        s2: np.ndarray,
        age: np.ndarray,
        company: np.ndarray,
        has_email: np.ndarray,
    ) -> list[str | None]:
        """Lower-case, unique addresses in the usual Spanish patterns; a number settles clashes."""
        m = first.size
        pattern = rng.choice(7, m, p=[0.30, 0.12, 0.10, 0.14, 0.10, 0.14, 0.10])
        domain_pick = rng.choice(len(EMAIL_DOMAINS), m, p=_weights([d[1] for d in EMAIL_DOMAINS]))
        year = ((self.today.year - age).astype(np.int64) % 100).tolist()
        number = rng.integers(1, 100, m).tolist()
        seen = self.emails
        result: list[str | None] = []
        for i in range(m):
            if not has_email[i]:
                result.append(None)
                continue
            f, a, b = first[i] or "cliente", s1[i] or "x", s2[i] or "x"
            if company[i] >= 0:
                local = f"{f[:20]}.{a[:20]}" if pattern[i] % 2 else f"{f[0]}{a[:25]}"
                domain = self.company_domain[company[i]]
            else:
                local = (
                    f"{f}.{a}", f"{f}{a}", f"{f}.{a}.{b}", f"{f[0]}{a}{b[0]}", f"{f}_{a}{year[i]:02d}",
                    f"{f}{a}{number[i]}", f"{a}.{f}",
                )[pattern[i]][:50]  # fmt: skip
                domain = EMAIL_DOMAINS[domain_pick[i]][0]
            address = f"{local}@{domain}"
            clash = seen.get(address)
            if clash is None:
                seen[address] = 1
            else:
                while True:
                    clash += 1
                    candidate = f"{local}{clash}@{domain}"
                    if candidate not in seen:
                        break
                seen[address] = clash
                seen[candidate] = 1
                address = candidate
            result.append(address)
        return result

    def _phones(self, rng: np.random.Generator, has_phone: np.ndarray) -> list[str]:
        """Unique Spanish mobile numbers (6xx and 71x-74x ranges) in E.164."""
        m = has_phone.size
        numbers = np.where(
            rng.random(m) < 0.85,
            600_000_000 + rng.integers(0, 100_000_000, m),
            710_000_000 + rng.integers(0, 40_000_000, m),
        ).tolist()
        seen = self.phones
        result: list[str] = []
        for i, number in enumerate(numbers):
            if not has_phone[i]:
                result.append("")
                continue
            while number in seen:
                number = 600_000_000 + int(rng.integers(0, 100_000_000))
            seen.add(number)
            result.append(f"+34{number}")
        return result

    def _orders(
        self,
        rng: np.random.Generator,
        lo: int,
        hi: int,
        o_cust: np.ndarray,
        o_day: np.ndarray,
        people: dict[str, Any],
        writer: _Pending,
    ) -> np.ndarray:
        """Write the chunk's orders; returns each customer's total spend."""
        m, k = hi - lo, o_cust.size
        b2b = people["b2b"]
        # Gamma-gamma spend: each customer's typical order value, then gamma noise around it.
        nu = rng.gamma(3.5, 1 / 40.0, m)
        cat_b2c = _weights([c[2] for c in CATEGORIES])
        cat_b2b = _weights([c[3] for c in CATEGORIES])
        factor = np.array([c[1] for c in CATEGORIES])
        factor = factor / float(factor @ cat_b2c)
        favourite = np.where(
            b2b, rng.choice(len(CATEGORIES), m, p=cat_b2b), rng.choice(len(CATEGORIES), m, p=cat_b2c)
        )
        channel_b2c = _weights([c[1] for c in SALES_CHANNELS])
        channel_b2b = _weights([c[2] for c in SALES_CHANNELS])
        main_channel = np.where(
            b2b,
            rng.choice(len(SALES_CHANNELS), m, p=channel_b2b),
            rng.choice(len(SALES_CHANNELS), m, p=channel_b2c),
        )
        self._favourite = favourite
        if not k:
            return np.zeros(m)
        o_b2b = b2b[o_cust]
        category = np.where(
            rng.random(k) < 0.5,
            favourite[o_cust],
            np.where(
                o_b2b, rng.choice(len(CATEGORIES), k, p=cat_b2b), rng.choice(len(CATEGORIES), k, p=cat_b2c)
            ),
        )
        channel = np.where(
            rng.random(k) < 0.7,
            main_channel[o_cust],
            rng.choice(len(SALES_CHANNELS), k, p=channel_b2c),
        )
        value = rng.gamma(4.0, 1.0, k) / nu[o_cust] * factor[category] * np.where(o_b2b, 2.5, 1.0)
        amount = np.round(np.maximum(value, 1.0), 2)
        spend = np.bincount(o_cust, weights=amount, minlength=m)
        second = rng.integers(9 * 3600, 21 * 3600, k)
        first = self.first_second[lo:hi][o_cust]
        same = (o_day == self.first_day[lo:hi][o_cust]) & (first > 0)
        second = np.where(same, np.minimum(np.maximum(second, first), 21 * 3600 + 1800), second)
        stamps = self.clock.stamps(o_day, second).tolist()
        ids = range(self.order_id, self.order_id + k)
        self.order_id += k
        refs = [f"DEMO-{n:09d}" for n in range(self.order_seq + 1, self.order_seq + k + 1)]
        self.order_seq += k
        category_names = _objects([c[0] for c in CATEGORIES])
        channel_names = _values(SALES_CHANNELS)
        customer_ids = people["ids"][o_cust].tolist()
        dates = self.clock.dates(o_day).tolist()
        amounts = amount.tolist()
        channels = channel_names[channel].tolist()
        categories = category_names[category].tolist()
        for start in range(0, k, 200_000):
            end = min(start + 200_000, k)
            writer.write(
                list(
                    zip(
                        ids[start:end], stamps[start:end], stamps[start:end], customer_ids[start:end],
                        dates[start:end], amounts[start:end], ["EUR"] * (end - start), channels[start:end],
                        categories[start:end], [ORDER_SOURCE] * (end - start), refs[start:end],
                        strict=True,
                    )
                )
            )  # fmt: skip
        return spend

    def _interactions(
        self,
        rng: np.random.Generator,
        lo: int,
        hi: int,
        count: np.ndarray,
        last_day: np.ndarray,
        people: dict[str, Any],
        writer: _Pending,
    ) -> None:
        """Calls, emails, visits... before the first purchase, while buying, and after lapsing."""
        m = hi - lo
        stage = people["stage"]
        mean = np.where(
            stage == Stage.SUSPECT,
            0.4,
            np.where(
                stage == Stage.PROSPECT,
                1.6,
                np.where(stage == Stage.FORMER, 2.0, 0.8 + 0.12 * np.minimum(count, 30)),
            ),
        )
        mean = mean * self.interactions_per_customer / 1.5
        per = rng.poisson(mean)
        who = np.repeat(np.arange(m), per)
        k = who.size
        if not k:
            return
        created = self.created_day[lo:hi][who]
        span = np.maximum(self.days - created, 1)
        day = np.minimum(created + (rng.random(k) * span).astype(np.int64), self.days - 1)
        second = rng.integers(9 * 3600, 20 * 3600, k)
        same = day == created
        second = np.where(same, np.maximum(second, self.created_second[lo:hi][who] + 60), second)
        first = self.first_day[lo:hi][who]
        bought = count[who] > 0
        moment = np.where(~bought | (day < first), 0, np.where(day > last_day[who] + 150, 2, 1))
        keys = ("pre", "buying", "lapsed")
        template = np.empty(k, dtype=np.int64)
        flat: list[Template] = []
        for g, key in enumerate(keys):
            where = np.flatnonzero(moment == g)
            template[where] = len(flat) + rng.integers(0, len(TEMPLATES[key]), where.size)
            flat.extend(TEMPLATES[key])
        author = np.where(rng.random(k) < 0.8, people["owner"][who], self.authors[rng.integers(0, 3, k)])
        stamps = self.clock.stamps(day, second).tolist()
        names = people["first_name"][who].tolist()
        cities = people["city"][who].tolist()
        channels = people["preferred"][who].tolist()
        favourite = self._favourite[who].tolist()
        category_names = [c[0].lower() for c in CATEGORIES]
        customer_ids = people["ids"][who].tolist()
        authors = author.tolist()
        rows = []
        ids = self.interaction_id
        for i, (t, stamp) in enumerate(zip(template.tolist(), stamps, strict=True)):
            tpl = flat[t]
            body = tpl.body.format(
                nombre=names[i],
                categoria=category_names[favourite[i]],
                ciudad=cities[i],
                canal=CHANNEL_WORDS.get(channels[i], "teléfono"),
            )
            rows.append(
                (ids + i, stamp, stamp, customer_ids[i], str(tpl.kind), str(tpl.direction), stamp, authors[i],
                 tpl.subject, body, str(tpl.outcome))
            )  # fmt: skip
        self.interaction_id += k
        writer.write(rows)

    def _tag_links(
        self,
        rng: np.random.Generator,
        lo: int,
        hi: int,
        spend: np.ndarray,
        o_cust: np.ndarray,
        o_day: np.ndarray,
        people: dict[str, Any],
        writer: _Pending,
    ) -> None:
        m = hi - lo
        tags: dict[str, np.ndarray] = {}
        if spend.any():
            tags["VIP"] = spend >= max(np.quantile(spend[spend > 0], 0.98), 1.0)
            tags["Cuenta clave"] = people["b2b"] & (spend >= np.quantile(spend, 0.9))
        else:
            tags["VIP"] = tags["Cuenta clave"] = np.zeros(m, dtype=bool)
        tags["Newsletter"] = people["opt_email"] & (rng.random(m) < 0.3)
        tags["Feria Hogar 2025"] = (people["source"] == Source.EVENT) & (rng.random(m) < 0.7)
        black_friday = np.zeros(m, dtype=bool)
        if o_cust.size:
            moment = np.datetime64(self.start) + o_day.astype("timedelta64[D]")
            month_start = moment.astype("datetime64[M]")
            november = month_start.astype(np.int64) % 12 == 10
            late = (moment - month_start).astype(np.int64) >= 19  # from the 20th
            black_friday[o_cust[november & late]] = True
        tags["Black Friday"] = black_friday & (rng.random(m) < 0.6)
        tags["Reclamación abierta"] = (people["stage"] != Stage.SUSPECT) & (rng.random(m) < 0.015)
        rows = []
        ids = people["ids"]
        for name in TAGS:
            tag_id = self.tags[name]
            for i in np.flatnonzero(tags[name]).tolist():
                rows.append((int(ids[i]), tag_id))
        rows.sort()
        start = self.link_id
        self.link_id += len(rows)
        writer.write([(start + j, c, t) for j, (c, t) in enumerate(rows)])

    # -- tasks -------------------------------------------------------------------------------------

    def _tasks(self) -> None:
        """Tasks for the demo team: most done, some overdue, some due today, some ahead."""
        rng = np.random.default_rng([self.seed, 20])
        picks = [self.task_picks[p] for p in sorted(self.task_picks)]
        team = max(4, len(picks) // 25)
        k = len(picks) + team
        status = rng.choice(4, k, p=[0.55, 0.15, 0.1, 0.2])  # done, overdue, today, upcoming
        # Every demo user opens "My tasks" to something: two overdue and two for today each.
        assignees = [self.users[u].pk for u in ("ana", "luis", "manager")]
        clock = self.clock
        rows = []
        now_id = _next_id(Task)
        for i in range(k):
            since = 0  # a task about a customer comes after they entered the file
            if i < len(picks):
                customer_id, name, owner, group, since = picks[i]
                options = TASK_TITLES[:7] if group != 3 else TASK_TITLES[7:8]
                title = options[int(rng.integers(0, len(options)))].format(nombre=name)
                assignee = owner or assignees[0]
            else:
                customer_id = None
                title = TEAM_TASK_TITLES[int(rng.integers(0, len(TEAM_TASK_TITLES)))]
                assignee = assignees[(i - len(picks)) % len(assignees)]
            if i < 8:
                assignee = assignees[i // 2 % 2]
                status[i] = 1 if i % 2 == 0 else 2
            due_offset = {
                0: -int(rng.integers(1, 300)),
                1: -int(rng.integers(1, 20)),
                2: 0,
                3: int(rng.integers(1, 45)),
            }[int(status[i])]
            due_day = max(self.days + due_offset, min(since + 1, self.days))
            due_second = int(rng.integers(9, 19)) * 3600 + int(rng.integers(0, 4)) * 900
            due = clock.stamps(np.array([due_day]), np.array([due_second]))[0]
            created_day = max(since, due_day - int(rng.integers(1, 30)))
            created = clock.stamps(
                np.array([min(created_day, self.days - 1)]), np.array([9 * 3600 + i % 3600])
            )[0]
            done = status[i] == 0
            done_at = clock.stamps(np.array([due_day]), np.array([due_second - 1800]))[0] if done else None
            creator = assignee if rng.random() < 0.7 else self.users["manager"].pk
            rows.append(
                (
                    now_id + i,
                    title,
                    customer_id,
                    assignee,
                    due,
                    bool(done),
                    done_at,
                    "",
                    creator,
                    created,
                    created,
                )
            )
        _Writer(Task, TASK_FIELDS).write(rows)
        self.stats.tasks = len(rows)
        self.report("Tasks", len(rows), len(rows))


CUSTOMER_FIELDS = (
    "id", "created_at", "updated_at", "title", "first_name", "last_name", "email", "phone", "stage", "sector",
    "company", "job_title", "profession", "birth_date", "address", "city", "region", "postal_code", "country",
    "preferred_channel", "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_mail", "source", "income_range",
    "owner", "custom_fields", "notes", "first_name_key", "last_name_key",
)  # fmt: skip
ORDER_FIELDS = (
    "id", "created_at", "updated_at", "customer", "ordered_on", "amount", "currency", "channel", "category",
    "source", "external_ref",
)  # fmt: skip
INTERACTION_FIELDS = (
    "id", "created_at", "updated_at", "customer", "kind", "direction", "occurred_at", "author", "subject", "body",
    "outcome",
)  # fmt: skip
COMPANY_FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "name",
    "name_key",
    "tax_id",
    "sector",
    "size",
    "region",
    "website",
)
TASK_FIELDS = (
    "id", "title", "customer", "assignee", "due_at", "done", "done_at", "notes", "created_by", "created_at",
    "updated_at",
)  # fmt: skip
